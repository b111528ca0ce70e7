"""Gallery serving speed: a page of a run's predictions at N photos, against a naive load-everything baseline.

    python benchmarks/bench_gallery.py [--n 1000 10000]

Rows are inserted directly (no image decoding) so the numbers measure the server side of the gallery: the page
shell (/gallery) and one JSON page of predictions per filter and sort. The baseline, run in the same process,
loads every prediction of the run and filters/sorts in Python, as a first version would.
Target: < 50 ms a page at 1000 photos.
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUERIES = [
    "",
    "&sort=-confidence",
    "&wrong=1",
    "&split=test",
    "&split=unlabeled",
    "&sort=wrong_confident",
    "&true_label=beer&label=wings",
    "&sort=newest",
]


def populate(app, n: int) -> int:
    """n photos (80 % labeled), one finished run, a prediction for each photo; returns the run id."""
    from webapp.db import db
    from webapp.db.models import Photo, Prediction, TrainingRun

    rng = random.Random(0)
    with app.app_context():
        run = TrainingRun(
            status="succeeded",
            params={},
            dataset={"labels": ["beer", "wings"]},
            artifacts={"model": "model.keras"},
            metrics={"accuracy": 0.9},
        )
        db.session.add(run)
        db.session.flush()
        for i in range(n):
            labeled = rng.random() < 0.8
            db.session.add(
                Photo(
                    sha256=f"{i:064x}",
                    filename=f"p{i}.jpg",
                    format="JPEG",
                    width=640,
                    height=480,
                    size_bytes=1000,
                    label_id=rng.choice([1, 2]) if labeled else None,
                    split=rng.choice(["train", "train", "train", "val", "test"]) if labeled else None,
                )
            )
        db.session.flush()
        for i in range(n):
            p = rng.random()
            db.session.add(
                Prediction(
                    run_id=run.id,
                    photo_id=i + 1,
                    label="beer" if p > 0.5 else "wings",
                    confidence=max(p, 1 - p),
                    probabilities={"beer": p, "wings": 1 - p},
                )
            )
        db.session.commit()
        return run.id


def naive_page(app, run_id: int) -> list:
    """Baseline: load every prediction with its photo, filter wrong ones and sort in Python."""
    from webapp.db import db
    from webapp.db.models import Photo, Prediction

    with app.app_context():
        rows = (
            db.session.query(Prediction, Photo)
            .join(Photo, Photo.id == Prediction.photo_id)
            .filter(Prediction.run_id == run_id)
            .all()
        )
        wrong = [(p, ph) for p, ph in rows if ph.label and ph.label.name != p.label]
        page = sorted(wrong, key=lambda r: r[0].confidence)[:50]
        return [{"photo_id": ph.id, "label": p.label, "probabilities": p.probabilities} for p, ph in page]


def timed(fn, repeat: int = 20) -> float:
    """Median milliseconds of fn()."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


def bench(n: int) -> None:
    """Measure one size."""
    from webapp import create_app

    app = create_app({"INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-gallery-"), "BACKBONE_WEIGHTS": "none"})
    run_id = populate(app, n)
    client = app.test_client()
    base = naive_page(app, run_id) and timed(lambda: naive_page(app, run_id), 5)
    print(f"\n{n} photos; baseline (load all, filter in Python): {base:.1f} ms")
    shell = timed(lambda: client.get(f"/gallery?run={run_id}").close())
    print(f"  GET /gallery (page shell)            {shell:6.1f} ms")
    for query in QUERIES:
        url = f"/api/v1/runs/{run_id}/predictions?per_page=50{query}"
        assert client.get(url).status_code == 200, url
        ms = timed(lambda url=url: client.get(url).close())
        print(
            f"  predictions{query or ' (default)':30s} {ms:6.1f} ms   {base / ms:5.1f}x faster than baseline"
            f"   {'OK' if ms < 50 else 'OVER'} (< 50 ms)"
        )


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    for n in parser.parse_args().n:
        bench(n)


if __name__ == "__main__":
    main()
