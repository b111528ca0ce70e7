"""A run's predictions (filters, sorts, paging), the uncertain-first photo order, and POST /api/v1/predict.

Web-process tests: prediction rows are inserted directly, as the worker would write them; nothing imports
TensorFlow. The predict endpoint is checked up to the worker boundary (no worker, a worker that does not
answer, and a stand-in for the worker's answer).
"""

import io
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from huey.exceptions import TaskException

from tests.accounts import token_client
from tests.images import class_photo, text_file
from tests.live import free_port
from webapp import create_app
from webapp.db import db
from webapp.db.models import Photo, Prediction, TrainingRun, WorkerBeat, class_by_name
from webapp.services import predictions as prediction_service

PREDICTION_KEYS = {"photo_id", "label", "confidence", "probabilities", "true_label"}

# name: (true label or None, split, predicted label, confidence); "trashed" sits in the trash.
GALLERY = {
    "beer_test_right": ("beer", "test", "beer", 0.90),
    "beer_val_wrong": ("beer", "val", "wings", 0.80),
    "wings_train_right": ("wings", "train", "wings", 0.60),
    "wings_test_wrong": ("wings", "test", "beer", 0.95),
    "unlabeled_beer": (None, None, "beer", 0.55),
    "unlabeled_wings": (None, None, "wings", 0.70),
    "trashed": ("beer", "train", "beer", 0.99),
}


# ---------------------------------------------------------------- helpers


def insert_photo(name: str, label: str | None, split: str | None, n: int, trashed: bool = False) -> int:
    """A photo row as the store leaves it (inside an app context); its id."""
    cls = class_by_name(label) if label else None
    photo = Photo(
        sha256=f"{n:064x}",
        filename=f"{name}.jpg",
        format="jpeg",
        width=40,
        height=32,
        size_bytes=1000 + n,
        label_id=cls.id if cls else None,
        split=split,
        labeled_at=datetime.now(UTC) if cls else None,
        deleted_at=datetime.now(UTC) if trashed else None,
    )
    db.session.add(photo)
    db.session.flush()
    return photo.id


def insert_run(status: str = "succeeded", pinned: bool = False, model: bool = True) -> int:
    """A finished run row (inside an app context); its id."""
    now = datetime.now(UTC)
    run = TrainingRun(
        status=status,
        params={"epochs": 5, "batch_size": 32, "learning_rate": 1e-4, "trainable_layers": 4},
        dataset={"labels": ["beer", "wings"], "items": []},
        progress={"stage": status},
        metrics={"accuracy": 0.5} if status == "succeeded" else None,
        artifacts={"model": "model.keras", "bytes": 10} if model else {},
        pinned=pinned,
        started_at=now - timedelta(minutes=1),
        finished_at=now,
    )
    db.session.add(run)
    db.session.flush()
    return run.id


def predict(run_id: int, photo_id: int, label: str, confidence: float) -> None:
    other = "wings" if label == "beer" else "beer"
    db.session.add(
        Prediction(
            run_id=run_id,
            photo_id=photo_id,
            label=label,
            confidence=confidence,
            probabilities={label: confidence, other: round(1 - confidence, 6)},
        )
    )


@pytest.fixture
def gallery(app):
    """A succeeded run with a prediction for every photo; {"run": id, photo name: id}."""
    ids = {}
    with app.app_context():
        other_run = insert_run()  # older: the gallery's run is the active model
        ids["run"] = insert_run()
        for n, (name, (label, split, predicted, confidence)) in enumerate(GALLERY.items(), start=1):
            ids[name] = insert_photo(name, label, split, n, trashed=name == "trashed")
            predict(ids["run"], ids[name], predicted, confidence)
            # An older run predicts the opposite, in the opposite order of doubt: it must never leak in.
            predict(other_run, ids[name], "wings" if predicted == "beer" else "beer", 0.99 - n / 100)
        ids["unpredicted"] = insert_photo("unpredicted", None, None, 99)
        db.session.commit()
    return ids


def listing(client, run_id: int, **args) -> dict:
    response = client.get(f"/api/v1/runs/{run_id}/predictions", query_string=args)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def names(gallery: dict, body: dict) -> list[str]:
    by_id = {v: k for k, v in gallery.items() if k != "run"}
    return [by_id[p["photo_id"]] for p in body["predictions"]]


def by_confidence(*keys: str, reverse: bool = False) -> list[str]:
    return sorted(keys, key=lambda k: GALLERY[k][3], reverse=reverse)


VISIBLE = [k for k in GALLERY if k != "trashed"]


# ---------------------------------------------------------------- the listing


def test_each_prediction_has_the_documented_fields(client, gallery):
    body = listing(client, gallery["run"])
    assert body["total"] == len(VISIBLE)
    assert len(body["predictions"]) == len(VISIBLE)
    for pred in body["predictions"]:
        assert set(pred) >= PREDICTION_KEYS
        name = names(gallery, {"predictions": [pred]})[0]
        true_label, _split, label, confidence = GALLERY[name]
        assert pred["label"] == label
        assert pred["confidence"] == pytest.approx(confidence)
        assert pred["probabilities"][label] == pytest.approx(confidence)
        assert pred["true_label"] == true_label
        assert pred["correct"] == (None if true_label is None else true_label == label)


def test_default_sort_is_least_confident_first(client, gallery):
    assert names(gallery, listing(client, gallery["run"])) == by_confidence(*VISIBLE)
    assert names(gallery, listing(client, gallery["run"], sort="confidence")) == by_confidence(*VISIBLE)


def test_sort_most_confident_first(client, gallery):
    body = listing(client, gallery["run"], sort="-confidence")
    assert names(gallery, body) == by_confidence(*VISIBLE, reverse=True)


def test_sort_wrong_confident_puts_confident_mistakes_first(client, gallery):
    body = listing(client, gallery["run"], sort="wrong_confident")
    got = names(gallery, body)
    assert got[:2] == ["wings_test_wrong", "beer_val_wrong"]
    assert got[2:] == by_confidence("beer_test_right", "wings_train_right", *_unlabeled(), reverse=True)


def _unlabeled() -> list[str]:
    return ["unlabeled_beer", "unlabeled_wings"]


def test_sort_newest(client, gallery):
    body = listing(client, gallery["run"], sort="newest")
    assert [p["photo_id"] for p in body["predictions"]] == sorted((gallery[k] for k in VISIBLE), reverse=True)


@pytest.mark.parametrize("sort", ["bogus", "confidence desc", "-newest"])
def test_bad_sort_is_400(client, gallery, sort):
    response = client.get(f"/api/v1/runs/{gallery['run']}/predictions", query_string={"sort": sort})
    assert response.status_code == 400
    assert "sort must be one of" in response.get_json()["error"]


@pytest.mark.parametrize(
    "split, expected",
    [
        ("test", ["beer_test_right", "wings_test_wrong"]),
        ("val", ["beer_val_wrong"]),
        ("train", ["wings_train_right"]),
        ("unlabeled", ["unlabeled_beer", "unlabeled_wings"]),
        # The gallery opens on what the model never trained on: test and unlabeled photos.
        ("unseen", ["beer_test_right", "wings_test_wrong", "unlabeled_beer", "unlabeled_wings"]),
    ],
)
def test_filter_by_split(client, gallery, split, expected):
    body = listing(client, gallery["run"], split=split)
    assert names(gallery, body) == by_confidence(*expected)
    assert body["total"] == len(expected)


def test_unlabeled_flag(client, gallery):
    body = listing(client, gallery["run"], unlabeled="1")
    assert names(gallery, body) == by_confidence(*_unlabeled())


def test_bad_split_is_400(client, gallery):
    response = client.get(f"/api/v1/runs/{gallery['run']}/predictions", query_string={"split": "holdout"})
    assert response.status_code == 400
    assert "split" in response.get_json()["error"]


def test_filter_below_a_confidence(client, gallery):
    # The gallery's threshold is a filter: only guesses less sure than it.
    body = listing(client, gallery["run"], below="0.7")
    assert all(p["confidence"] < 0.7 for p in body["predictions"]) and body["total"] > 0
    assert "unlabeled_wings" not in names(gallery, body)  # exactly 0.70: as sure as the threshold
    assert listing(client, gallery["run"], below="1")["total"] == len(VISIBLE)
    for bad in ("1.5", "-0.1", "most"):
        response = client.get(f"/api/v1/runs/{gallery['run']}/predictions", query_string={"below": bad})
        assert response.status_code == 400 and "below must be" in response.get_json()["error"]


def test_filter_by_predicted_label(client, gallery):
    body = listing(client, gallery["run"], label="beer")
    assert names(gallery, body) == by_confidence("beer_test_right", "wings_test_wrong", "unlabeled_beer")
    assert {p["label"] for p in body["predictions"]} == {"beer"}


def test_filter_by_true_label(client, gallery):
    body = listing(client, gallery["run"], true_label="wings")
    assert names(gallery, body) == by_confidence("wings_train_right", "wings_test_wrong")
    assert {p["true_label"] for p in body["predictions"]} == {"wings"}


def test_filter_wrong_only(client, gallery):
    body = listing(client, gallery["run"], wrong="1")
    assert names(gallery, body) == by_confidence("beer_val_wrong", "wings_test_wrong")
    assert all(p["correct"] is False for p in body["predictions"])
    assert body["total"] == 2


def test_filters_combine(client, gallery):
    assert names(gallery, listing(client, gallery["run"], wrong="1", split="test")) == ["wings_test_wrong"]
    assert names(gallery, listing(client, gallery["run"], true_label="beer", label="beer")) == [
        "beer_test_right"
    ]
    assert listing(client, gallery["run"], wrong="1", split="train")["total"] == 0


def test_paging(client, gallery):
    order = by_confidence(*VISIBLE)
    first = listing(client, gallery["run"], per_page=2, page=1)
    second = listing(client, gallery["run"], per_page=2, page=2)
    last = listing(client, gallery["run"], per_page=4, page=2)
    beyond = listing(client, gallery["run"], per_page=4, page=3)
    assert names(gallery, first) == order[:2]
    assert names(gallery, second) == order[2:4]
    assert names(gallery, last) == order[4:]
    assert beyond["predictions"] == []
    assert {first["total"], second["total"], last["total"], beyond["total"]} == {len(VISIBLE)}
    assert (second["page"], second["per_page"]) == (2, 2)


@pytest.mark.parametrize("args", [{"page": 0}, {"per_page": 0}, {"per_page": 10_000}, {"page": "two"}])
def test_bad_paging_is_400(client, gallery, args):
    response = client.get(f"/api/v1/runs/{gallery['run']}/predictions", query_string=args)
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_predictions_of_an_unknown_run_are_404(client):
    response = client.get("/api/v1/runs/404/predictions")
    assert response.status_code == 404
    assert response.get_json()["error"]


def test_a_run_without_predictions_lists_nothing(app, client, gallery):
    with app.app_context():
        empty = insert_run("failed", model=False)
        db.session.commit()
    assert listing(client, empty) == {
        "predictions": [],
        "total": 0,
        "page": 1,
        "per_page": 50,
        "run_id": empty,
    }


# ---------------------------------------------------------------- photos ordered by the active model's doubt


def photo_order(client, **args) -> list[int]:
    response = client.get("/api/v1/photos", query_string={"order": "uncertain", **args})
    assert response.status_code == 200, response.get_json()
    return [p["id"] for p in response.get_json()["photos"]]


def test_uncertain_order_lists_unlabeled_photos_least_confident_first(client, gallery):
    ids = photo_order(client, unlabeled="1")
    # Least confident first; a photo the model has not predicted yet comes last.
    assert ids == [gallery["unlabeled_beer"], gallery["unlabeled_wings"], gallery["unpredicted"]]
    photos = client.get("/api/v1/photos", query_string={"order": "uncertain", "unlabeled": "1"}).get_json()
    preds = [p["prediction"] for p in photos["photos"]]
    assert [p and p["run_id"] for p in preds] == [gallery["run"], gallery["run"], None]
    assert preds[0]["confidence"] == pytest.approx(0.55)


def test_uncertain_order_follows_the_newest_succeeded_run(app, client, gallery):
    with app.app_context():
        newer = insert_run()
        insert_run("failed", model=False)  # newest of all, but failed: never the active model
        predict(newer, gallery["unlabeled_beer"], "beer", 0.99)
        predict(newer, gallery["unlabeled_wings"], "wings", 0.51)
        predict(newer, gallery["unpredicted"], "beer", 0.75)
        db.session.commit()
    assert photo_order(client, unlabeled="1") == [
        gallery["unlabeled_wings"],
        gallery["unpredicted"],
        gallery["unlabeled_beer"],
    ]
    runs = {r["id"]: r["active"] for r in client.get("/api/v1/runs").get_json()}
    assert runs[newer] is True and runs[gallery["run"]] is False


def test_uncertain_order_follows_the_pinned_run(app, client, gallery):
    with app.app_context():
        newer = insert_run()
        predict(newer, gallery["unlabeled_beer"], "beer", 0.99)
        predict(newer, gallery["unlabeled_wings"], "wings", 0.51)
        db.session.commit()
    assert photo_order(client, unlabeled="1")[0] == gallery["unlabeled_wings"]
    assert client.post(f"/api/v1/runs/{gallery['run']}/pin").status_code == 200
    assert photo_order(client, unlabeled="1") == [
        gallery["unlabeled_beer"],
        gallery["unlabeled_wings"],
        gallery["unpredicted"],
    ]


def test_uncertain_order_without_a_model_is_newest_first(app, client):
    with app.app_context():
        ids = [insert_photo(f"p{n}", None, None, n) for n in range(3)]
        insert_run("failed", model=False)
        db.session.commit()
    assert photo_order(client) == ids[::-1]


# ---------------------------------------------------------------- POST /api/v1/predict


def post_file(client, body: bytes, field: str = "file", filename: str = "try.jpg"):
    return client.post(
        "/api/v1/predict", data={field: (io.BytesIO(body), filename)}, content_type="multipart/form-data"
    )


def test_predict_without_a_worker_is_503(client, gallery):
    response = post_file(client, class_photo(0, 1, size=(40, 32)))
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert "No worker is running" in error
    assert "python -m webapp" in error


def test_predict_refuses_a_text_file_with_the_reason(client):
    response = post_file(client, text_file())
    assert response.status_code == 400
    assert response.get_json()["error"] == "This is a text file, not a photo"


def test_predict_refuses_an_empty_file(client):
    response = post_file(client, b"")
    assert response.status_code == 400
    assert "empty" in response.get_json()["error"]


@pytest.mark.parametrize("kind", ["other field", "no body", "json"])
def test_predict_without_the_file_field_is_400(client, kind):
    if kind == "other field":
        response = post_file(client, class_photo(0, 1, size=(40, 32)), field="files")
    elif kind == "json":
        response = client.post("/api/v1/predict", json={"file": "beer.jpg"})
    else:
        response = client.post("/api/v1/predict")
    assert response.status_code == 400
    assert '"file"' in response.get_json()["error"]


def test_predict_too_large_is_413(app, client):
    app.config["MAX_UPLOAD_BYTES"] = 1000
    response = post_file(client, class_photo(0, 1, size=(400, 300)))
    assert response.status_code == 413
    assert response.get_json()["error"]


def _worker_beats(app) -> None:
    with app.app_context():
        db.session.add(WorkerBeat(name="elsewhere:1"))
        db.session.commit()


def test_predict_gives_up_when_the_worker_does_not_answer(app, client):
    # A worker beat recently but nothing consumes the queue: the request must not hang.
    _worker_beats(app)
    app.config["PREDICT_TIMEOUT"] = 1
    response = post_file(client, class_photo(0, 1, size=(40, 32)))
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "did not answer within 1 s" in response.get_json()["error"]
    huey = app.extensions["huey"]
    waiting = [t for t in huey.pending() if t.name == "predict_image"]
    assert len(waiting) == 1
    assert huey.is_revoked(waiting[0])  # a late worker will not do the work nobody waits for


def test_predicts_over_the_limit_are_refused_at_once_leaving_threads_for_pages(app):
    # Waiting for the worker holds a web server thread: PREDICT_CONCURRENCY may wait; the next is told to
    # try again.
    _worker_beats(app)
    app.config.update(PREDICT_CONCURRENCY=1, PREDICT_TIMEOUT=3)
    huey = app.extensions["huey"]
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post_file, token_client(app), class_photo(0, 1, size=(40, 32)))
        deadline = time.monotonic() + 30
        while not [t for t in huey.pending() if t.name == "predict_image"] and time.monotonic() < deadline:
            time.sleep(0.05)  # until the first one waits for the worker
        second = post_file(token_client(app), class_photo(0, 2, size=(40, 32)))
        assert not first.done()  # still waiting: the refusal did not wait for it
        assert second.status_code == 503 and second.headers["Retry-After"] == "2"
        assert "busy with other predictions" in second.get_json()["error"]
        assert "did not answer" in first.result().get_json()["error"]
    assert len([t for t in huey.pending() if t.name == "predict_image"]) == 1  # the second queued nothing
    third = post_file(token_client(app), class_photo(0, 3, size=(40, 32)))
    assert "did not answer within 3 s" in third.get_json()["error"]  # the slot was given back


def test_predict_with_the_queue_down_is_503_in_words(app_config):
    # A Redis queue where nothing listens (refused at once; an unreachable host: the socket timeouts).
    app = create_app({**app_config, "QUEUE_URL": f"redis://127.0.0.1:{free_port()}/0"})
    _worker_beats(app)
    response = post_file(token_client(app), class_photo(0, 1, size=(40, 32)))
    assert response.status_code == 503 and response.headers["Retry-After"] == "10"
    assert "job queue is not available" in response.get_json()["error"]


class FakeResult:
    """Stands in for the worker's answer to predict_image."""

    def __init__(self, answer=None, exc=None):
        self.answer, self.exc, self.revoked = answer, exc, False
        self.image = None

    def get(self, blocking, timeout):
        assert blocking and timeout > 0
        if self.exc:
            raise self.exc
        return self.answer

    def revoke(self):
        self.revoked = True


@pytest.fixture
def fake_worker(app, monkeypatch):
    """A live worker whose predict_image answers with fake.answer (or raises fake.exc)."""
    _worker_beats(app)
    fake = FakeResult()

    def job(name):
        assert name == "predict_image"

        def call(image):
            fake.image = image
            return fake

        return call

    monkeypatch.setattr(prediction_service.queue, "job", job)
    return fake


def test_predict_returns_the_worker_answer(app, client, fake_worker):
    answer = {"label": "beer", "confidence": 0.9, "probabilities": {"beer": 0.9, "wings": 0.1}, "run_id": 3}
    fake_worker.answer = answer
    response = post_file(client, class_photo(0, 1, size=(400, 300)))
    assert response.status_code == 200
    assert response.get_json() == answer
    # The worker gets the decoded model input at the app's image size, not the file.
    assert fake_worker.image.shape == (app.config["IMAGE_SIZE"], app.config["IMAGE_SIZE"], 3)


def test_predict_without_a_model_is_409(client, fake_worker):
    fake_worker.answer = {"error": "There is no trained model yet: press Train first"}
    response = post_file(client, class_photo(0, 1, size=(40, 32)))
    assert response.status_code == 409
    assert response.get_json()["error"] == "There is no trained model yet: press Train first"


def test_predict_reports_a_worker_failure(client, fake_worker):
    fake_worker.exc = TaskException({"error": "OSError('model.keras is damaged')"})
    response = post_file(client, class_photo(0, 1, size=(40, 32)))
    assert response.status_code == 500
    assert "model.keras is damaged" in response.get_json()["error"]


def test_renaming_a_class_keeps_its_predictions_right(client, gallery):
    run_id = gallery["run"]
    assert listing(client, run_id, wrong="1")["total"] == 2
    beer = next(c for c in client.get("/api/v1/classes").get_json() if c["name"] == "beer")
    assert client.patch(f"/api/v1/classes/{beer['id']}", json={"name": "lager"}).status_code == 200
    assert listing(client, run_id, wrong="1")["total"] == 2
    labels = {p["label"] for p in listing(client, run_id, per_page=100)["predictions"]}
    assert labels == {"lager", "wings"}
