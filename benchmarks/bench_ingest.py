"""Ingest throughput: storage.store_photo against a naive Pillow pipeline, on phone-size JPEGs.

    python benchmarks/bench_ingest.py [-n 20]

Makes N 4032 x 3024 JPEGs with photo-like detail (3-5 MB each, EXIF orientation set as phones do), then stores
them (1) through the real path, storage.store_photo into a temporary root, and (2) through a naive pipeline:
full decode, exif_transpose, convert("RGB"), three LANCZOS resizes from full size (1280, 320, 224), save,
with the same hashing and file writes. Prints photos/s of each and the speed-up (target >= 2.5x).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.images import noisy_jpeg
from webapp.photostore import storage

ORIENTATIONS = [6, 1, 8, 3]  # portrait shots dominate phone libraries; all four rotations appear


def naive_store(data: bytes, root: Path) -> None:
    """What a first version would do: decode everything, then resize each copy from the full picture."""
    sha = hashlib.sha256(data).hexdigest()
    (root / f"{sha}.jpg").write_bytes(data)
    im = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    for long_side, name, quality in [(1280, "display", 85), (320, "thumb", 80)]:
        scale = long_side / max(im.size)
        copy = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
        copy.save(root / f"{sha}.{name}.jpg", "JPEG", quality=quality)
    im.resize((224, 224), Image.Resampling.LANCZOS).save(root / f"{sha}.model.png", "PNG")


def real_store(data: bytes, root: Path) -> None:
    storage.store_photo(data, storage.StoreSettings(root=root))


def timed(pipeline, photos: list[bytes], root: Path) -> float:
    """Photos per second of pipeline over photos (after one warm-up photo outside the timing)."""
    pipeline(photos[0], root / "warm-up")
    start = time.perf_counter()
    for data in photos:
        pipeline(data, root / "run")
    return len(photos) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="number of photos (default 20)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    photos = [noisy_jpeg(4032, 3024, seed=i, exif_orientation=ORIENTATIONS[i % 4]) for i in range(args.n)]
    mb = sum(map(len, photos)) / len(photos) / 2**20
    print(f"made {args.n} photos, 4032 x 3024, {mb:.1f} MB on average ({time.perf_counter() - t0:.0f} s)")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        for sub in ("naive/warm-up", "naive/run"):
            (Path(tmp) / sub).mkdir(parents=True)
        naive = timed(naive_store, photos, Path(tmp) / "naive")
        real = timed(real_store, photos, Path(tmp) / "real")
    print(f"naive pipeline:      {naive:6.2f} photos/s  ({1000 / naive:5.0f} ms each)")
    print(f"storage.store_photo: {real:6.2f} photos/s  ({1000 / real:5.0f} ms each)")
    print(f"speed-up: {real / naive:.2f}x (target >= 2.5x)")


if __name__ == "__main__":
    main()
