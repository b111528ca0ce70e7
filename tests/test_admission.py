"""Admission: uploads take one of UPLOAD_CONCURRENCY slots, so a crowd uploading leaves threads for pages."""

import io

from tests.images import class_photo


def upload(client, n: int):
    data = {"files": (io.BytesIO(class_photo(0, n, size=(40, 32))), f"p{n}.jpg")}
    return client.post("/api/v1/photos", data=data, content_type="multipart/form-data")


def test_an_upload_waits_for_a_slot_then_is_told_to_try_again(app, client):
    app.config["SLOT_WAIT_SECONDS"] = 0.05
    slots = app.extensions["webapp_slots"]["UPLOAD_CONCURRENCY"]
    taken = [slots.acquire(blocking=False) for _ in range(app.config["UPLOAD_CONCURRENCY"])]
    assert all(taken)  # as if UPLOAD_CONCURRENCY uploads were being stored right now
    try:
        response = upload(client, 1)
        assert response.status_code == 503 and response.headers["Retry-After"] == "2"
        assert "busy storing other uploads" in response.get_json()["error"]
        # Pages, lists and thumbnails take no slot.
        for url in ("/", "/train", "/api/v1/photos", "/api/v1/runs"):
            assert client.get(url).status_code == 200
    finally:
        for _ in taken:
            slots.release()
    assert upload(client, 1).get_json()["results"][0]["status"] == "stored"
    assert client.get("/api/v1/photos").get_json()["total"] == 1  # the refused one left nothing


def test_every_upload_gives_its_slot_back_whatever_happens(app, client):
    app.config["SLOT_WAIT_SECONDS"] = 0.05
    statuses = []
    for n in range(app.config["UPLOAD_CONCURRENCY"] + 2):
        statuses.append(client.post("/api/v1/photos", data={}).status_code)  # refused: no files
        statuses.append(upload(client, n).status_code)
    assert set(statuses) == {400, 200}


def test_web_threads_and_upload_slots_are_settings(monkeypatch, app_config):
    from webapp import create_app

    monkeypatch.setenv("WEBAPP_WEB_THREADS", "12")
    monkeypatch.setenv("WEBAPP_UPLOAD_CONCURRENCY", "3")
    app = create_app(app_config)
    assert (app.config["WEB_THREADS"], app.config["UPLOAD_CONCURRENCY"]) == (12, 3)
    assert app.config["WEB_THREADS"] > app.config["UPLOAD_CONCURRENCY"]
