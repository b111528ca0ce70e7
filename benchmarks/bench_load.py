"""Load: uploaders and readers against `python -m webapp`, then a burst of predicts; no acknowledged loss.

    python benchmarks/bench_load.py [--duration 180] [--uploaders 20] [--readers 30]
                                    [--predictors 20] [--predict-seconds 30] [--backend sqlite|pg]

Starts the app as a user does (embedded defaults: SQLite + SqliteHuey; or --backend pg: PostgreSQL + Redis
from TEST_POSTGRES_URL / TEST_REDIS_URL) on a temporary instance, labels 12 photos and trains one small run
(so new uploads get the active model's prediction in the background, and predicts have a model). Then:
  1. load: uploaders POST one new photo at a time; readers walk pages, thumbnails, API lists and run polling;
  2. predict burst: predictors POST /api/v1/predict (honouring 503 + Retry-After) while readers load pages.
Prints requests/s, p50/p95/p99 per kind, non-2xx by status, and ratios against the fault-and-load probe
(issue 8: 118.7 req/s; p95 upload 0.91 s, page 0.52 s, thumbnail 0.46 s, API 0.53 s), then checks that every
acknowledged upload is in the database with its original's SHA-256. The client runs on the same machine.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import load_app  # noqa: E402
from benchmarks.load_app import backend_env, prepare, start_app, verify  # noqa: E402
from tests.live import free_port  # noqa: E402

PROBE = {"rps": 118.7, "upload": 0.91, "page": 0.52, "thumbnail": 0.46, "api": 0.53}
PAGES = ["/", "/label", "/photos", "/train", "/gallery", "/runs/{run}"]
APIS = [
    "/api/v1/photos?page=1&per_page=50",
    "/api/v1/classes",
    "/api/v1/dataset",
    "/api/v1/photos/ids?unlabeled=1",
]
POLLS = ["/api/v1/runs/{run}", "/api/v1/runs", "/api/v1/storage"]


class Stats:
    """Latencies and statuses per kind of request, shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.times, self.codes, self.busy = defaultdict(list), defaultdict(Counter), Counter()
        self.acked: list[tuple[int, str]] = []
        self.thumbs: list[str] = []

    def add(self, kind: str, seconds: float, status: int, busy: bool = False) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            self.codes[kind][status] += 1
            self.busy[kind] += busy


def photo(n: int) -> bytes:
    """A unique 640 x 480 JPEG (a counter drawn as blocks keeps every upload distinct)."""
    im = Image.new("RGB", (640, 480), (200 - n % 50, 120, 40 + n % 80))
    draw = ImageDraw.Draw(im)
    draw.rectangle([100 + n % 300, 100, 250 + n % 300, 380], fill=(30, 60, 200))
    for bit in range(32):
        if n >> bit & 1:
            draw.rectangle([bit * 16, 460, bit * 16 + 15, 479], fill=(255, 255, 255))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def timed(stats: Stats, kind: str, send, url: str, **kwargs) -> requests.Response | None:
    """send(url, **kwargs), its latency and status recorded under kind."""
    start = time.perf_counter()
    try:
        response = send(url, timeout=60, **kwargs)
        status = response.status_code
    except requests.RequestException:
        response, status = None, 0  # 0: no answer (connection refused, reset or timed out)
    busy = status == 503 and "Retry-After" in response.headers  # back-pressure: "try again in N s"
    stats.add(kind, time.perf_counter() - start, status, busy)
    return response


def uploader(base: str, stats: Stats, number: int, stop: threading.Event) -> None:
    session = load_app.session()
    for n in itertools.count():
        if stop.is_set():
            return
        data = photo(number * 1_000_000 + n + 100)
        files = {"files": ("p.jpg", data, "image/jpeg")}
        response = timed(stats, "upload", session.post, base + "/api/v1/photos", files=files)
        if response is not None and response.status_code == 200:
            result = response.json()["results"][0]
            if result["status"] in ("stored", "duplicate"):
                assert result["photo"]["sha256"] == hashlib.sha256(data).hexdigest()
                with stats.lock:
                    stats.acked.append((result["photo"]["id"], result["photo"]["sha256"]))
                    stats.thumbs.append(result["photo"]["thumbnail_url"])


def reader(base: str, stats: Stats, run_id: int, kinds: tuple[str, ...], stop: threading.Event) -> None:
    session = load_app.session()
    for n in itertools.count():
        if stop.is_set():
            return
        kind = kinds[n % len(kinds)]
        if kind == "thumbnail":
            with stats.lock:
                path = stats.thumbs[(n * 7919) % len(stats.thumbs)]
        else:
            paths = {"page": PAGES, "api": APIS, "poll": POLLS}[kind]
            path = paths[(n // len(kinds)) % len(paths)].format(run=run_id)
        timed(stats, kind, session.get, base + path)


def predictor(base: str, stats: Stats, data: bytes, stop: threading.Event) -> None:
    session = load_app.session()
    while not stop.is_set():
        files = {"file": ("x.jpg", data, "image/jpeg")}
        response = timed(stats, "predict", session.post, base + "/api/v1/predict", files=files)
        if response is not None and response.status_code == 503:
            stop.wait(float(response.headers.get("Retry-After", 1)))


def run_threads(targets: list, seconds: float) -> float:
    stop = threading.Event()
    threads = [threading.Thread(target=fn, args=(*args, stop), daemon=True) for fn, args in targets]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join(90)
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(title: str, stats: Stats, seconds: float) -> None:
    total = sum(len(v) for v in stats.times.values())
    ratio = f" ({total / seconds / PROBE['rps']:.2f}x the probe's {PROBE['rps']})" if title == "load" else ""
    print(f"\n== {title}: {total} requests in {seconds:.0f} s = {total / seconds:.1f} req/s{ratio}")
    print(
        f"{'kind':<10}{'count':>7}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  non-2xx / vs probe p95"
    )
    for kind in sorted(stats.times):
        times, codes = stats.times[kind], stats.codes[kind]
        bad = {c: n for c, n in sorted(codes.items()) if not 200 <= c < 300}
        p95 = percentile(times, 0.95)
        versus = f"  p95 {p95 / PROBE[kind]:.2f}x probe" if kind in PROBE else ""
        print(
            f"{kind:<10}{len(times):>7}{len(times) / seconds:>8.1f}{percentile(times, 0.5) * 1000:>9.0f}"
            f"{p95 * 1000:>9.0f}{percentile(times, 0.99) * 1000:>9.0f}  {bad or '-'}{versus}"
        )
    errors = sum(n for codes in stats.codes.values() for c, n in codes.items() if c >= 500 or c == 0)
    busy = sum(stats.busy.values())
    print(f"server errors (5xx or no answer): {errors - busy}; busy (503 + Retry-After, tried again): {busy}")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=180, help="seconds of load (default 180)")
    ap.add_argument("--uploaders", type=int, default=20)
    ap.add_argument("--readers", type=int, default=30)
    ap.add_argument("--predictors", type=int, default=20)
    ap.add_argument("--predict-seconds", type=float, default=30, help="predict burst seconds (0: none)")
    ap.add_argument("--backend", choices=["sqlite", "pg"], default="sqlite", help="pg: PostgreSQL + Redis")
    ap.add_argument("--image-size", type=int, default=224, help="model input side (224: the real one)")
    return ap.parse_args()


def load(args, base: str, run_id: int) -> Stats:
    """Uploaders and readers (pages, thumbnails, API lists, run polling) for args.duration seconds."""
    stats = Stats()
    stats.thumbs = [
        p["thumbnail_url"]
        for p in load_app.session().get(base + "/api/v1/photos", timeout=30).json()["photos"]
    ]
    kinds = ("page", "thumbnail", "api", "poll")
    targets = [(uploader, (base, stats, n)) for n in range(args.uploaders)]
    targets += [(reader, (base, stats, run_id, kinds[n % 4 :] + kinds[: n % 4])) for n in range(args.readers)]
    report("load", stats, run_threads(targets, args.duration))
    return stats


def predict_burst(args, base: str, run_id: int, thumbs: list[str]) -> None:
    """Predictors (honouring 503 + Retry-After) with 10 page and thumbnail readers."""
    burst = Stats()
    burst.thumbs = thumbs
    targets = [(predictor, (base, burst, photo(n + 50))) for n in range(args.predictors)]
    targets += [(reader, (base, burst, run_id, ("page", "thumbnail"))) for _ in range(10)]
    title = f"{args.predictors} concurrent predicts with page and thumbnail readers"
    report(title, burst, run_threads(targets, args.predict_seconds))


def main() -> None:
    """Start the app, prepare a model, load it, verify."""
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        instance, port = Path(tmp) / "instance", free_port()
        instance.mkdir()
        env, clean_up = backend_env(args.backend, args.image_size, instance)
        proc, base = start_app(env, port, Path(tmp) / "app.log"), f"http://127.0.0.1:{port}"
        try:
            run_id = prepare(base, photo)
            print(f"backend: {args.backend}; model input {args.image_size} px; active model: run {run_id}")
            stats = load(args, base, run_id)
            if args.predict_seconds > 0:
                predict_burst(args, base, run_id, stats.thumbs)
            verify(env, stats.acked)
        finally:
            proc.send_signal(2)
            proc.wait(60)
            clean_up()


if __name__ == "__main__":
    main()
