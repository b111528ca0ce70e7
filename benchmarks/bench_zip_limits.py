"""Zips against a running app: bombs and floods refused from the zip's directory, large zips queued.

    python benchmarks/bench_zip_limits.py [--bombs 8]

Starts `python -m webapp` (no worker) on a temporary instance and measures, in this process:
  1. /healthz while idle (the baseline);
  2. N concurrent uploads of the probe's zip bomb (100 members of 50 MiB of zeros in 5 MB), with /healthz
     polled meanwhile: the time each upload holds a request thread, and /healthz against its idle baseline;
  3. the probe's flood: a 2.2 MB zip of 20,000 tiny members;
  4. a large, legitimate zip (300 photos): the time until the upload is answered (202, imported by a job).
The issue's probe measured, before: 125-139 s per bomb (all 8 threads held, /healthz timed out) and 81.5 s for
the flood.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.images import class_photo
from tests.live import LiveApp, app_env
from tests.test_zip_imports import bomb

PROBE = {"bomb_s": 125.0, "flood_s": 81.5}


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def health_times(live: LiveApp, stop: threading.Event, out: list) -> None:
    while not stop.is_set():
        out.append(timed(lambda: requests.get(live.url + "/healthz", timeout=60))[0])
        time.sleep(0.05)


def post_zip(live: LiveApp, data: bytes, name: str):
    return live.post("/api/v1/photos", files={"files": (name, data)}, timeout=600)


def zip_of(files: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return buf.getvalue()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bombs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        instance.mkdir()
        live = LiveApp(instance, app_env(instance, WEBAPP_WTF_CSRF_ENABLED="false")).start(with_worker=False)
        try:
            run(live, args.bombs)
        finally:
            live.stop()


def run(live: LiveApp, bombs: int) -> None:
    idle = [timed(lambda: requests.get(live.url + "/healthz", timeout=10))[0] for _ in range(20)]
    print(f"/healthz idle: median {statistics.median(idle) * 1000:.1f} ms, p95 {p95(idle) * 1000:.1f} ms")

    data = bomb(100, 50 * 2**20)
    health, stop = [], threading.Event()
    poller = threading.Thread(target=health_times, args=(live, stop, health))
    poller.start()
    times, statuses = [], []

    def one():
        seconds, response = timed(lambda: post_zip(live, data, "bomb.zip"))
        times.append(seconds)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=one) for _ in range(bombs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    poller.join()
    slowest, before = max(times), PROBE["bomb_s"]
    print(
        f"{bombs} concurrent bombs ({len(data) / 1e6:.1f} MB each, 5,000 MiB declared): "
        f"statuses {sorted(set(statuses))}, slowest {slowest:.2f} s "
        f"(probe before: {before:.0f} s, {before / slowest:,.0f}x faster)"
    )
    print(
        f"/healthz meanwhile: {len(health)} calls, p95 {p95(health) * 1000:.1f} ms "
        f"({p95(health) / p95(idle):.1f}x idle)"
    )

    flood = zip_of({f"beer/{i}.jpg": b"t" for i in range(20_000)})
    seconds, response = timed(lambda: post_zip(live, flood, "flood.zip"))
    print(
        f"20,000-member zip ({len(flood) / 1e6:.1f} MB): HTTP {response.status_code} in {seconds:.2f} s "
        f"(probe before: {PROBE['flood_s']} s, {PROBE['flood_s'] / seconds:,.0f}x faster)"
    )

    photos = zip_of({f"beer/{i}.jpg": class_photo(0, i, size=(320, 240)) for i in range(300)})
    seconds, response = timed(lambda: post_zip(live, photos, "photos.zip"))
    print(
        f"300-photo zip ({len(photos) / 1e6:.1f} MB): HTTP {response.status_code} in {seconds:.2f} s "
        f"(queued as import {response.json().get('import', {}).get('id')})"
    )


if __name__ == "__main__":
    main()
