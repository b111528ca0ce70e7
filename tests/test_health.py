"""/healthz: free disk space of the instance folder, "degraded" (still serving) below MIN_FREE_BYTES."""

import shutil


def test_healthz_reports_free_disk_space(app, client):
    body = client.get("/healthz").get_json()
    free = shutil.disk_usage(app.config["INSTANCE_PATH"]).free
    assert body["disk"]["min_free_bytes"] == app.config["MIN_FREE_BYTES"]
    assert abs(body["disk"]["free_bytes"] - free) < 1024**3  # the same disk, give or take other writers
    assert body["disk"]["status"] == "ok" and body["status"] == "ok" and "message" not in body


def test_healthz_is_degraded_in_words_when_the_disk_is_nearly_full(app, client):
    app.config["MIN_FREE_BYTES"] = 10**18  # more than any disk here has free
    response = client.get("/healthz")
    assert response.status_code == 200  # it still serves: degraded, not down
    body = response.get_json()
    assert body["status"] == "degraded" and body["disk"]["status"] == "low"
    assert (body["database"], body["queue"]) == ("ok", "ok")
    assert "free" in body["message"] and "minimum" in body["message"]


def test_min_free_bytes_comes_from_the_environment(monkeypatch, app_config):
    from webapp import create_app

    monkeypatch.setenv("WEBAPP_MIN_FREE_BYTES", "12345")
    app_config.pop("MIN_FREE_BYTES", None)
    assert create_app(app_config).config["MIN_FREE_BYTES"] == 12345
