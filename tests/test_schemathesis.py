"""schemathesis against the live app (`python -m webapp` with its worker), driven by /api/v1/openapi.json.

The app is seeded first (labeled photos, a zip imported in the background, a trained run), so generated
requests reach real objects, not only 404s. Every response must be no server error and match the document:
its status codes, content types, headers and body schemas; schema-invalid requests must be refused, auth
must be enforced, and what a POST created must be there to read (schemathesis's stateful checks).
"""

import io
import json
import os
import subprocess
import sys
import zipfile

import pytest

from tests.images import class_photo
from tests.live import LiveApp, app_env
from tests.test_worker import upload_labeled, wait_run

pytestmark = pytest.mark.slow

MIN_REQUESTS = 300
# All of schemathesis's checks but three: positive_data_acceptance (a schema-valid request may be refused
# for what the document cannot say: a label that names no class, bytes that are not a photo, too few photos to
# train), max_response_time (timings are no test's business; benchmarks/ measure them) and use_after_free
# (DELETE /photos/{id} moves a photo to the trash, DESIGN.md: it stays readable, deleted: true, and
# POST .../restore brings it back, which that check takes for a deleted photo still served).
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "missing_required_header",
        "ignored_auth",
        "unsupported_method",
        "allow_header_conformance",
        "ensure_resource_availability",
    ]
)
# Revoking a token (the run's own among them) would sign the run out: that operation runs apart, with a
# throwaway admin's token, after the others. (Removing users is safe: an admin cannot remove themselves.)
SIGN_OUT = r"^/api/v1/tokens/\{"


def photo_zip(count: int) -> bytes:
    """A zip of count labeled-looking photos."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for i in range(count):
            archive.writestr(f"zip_{i}.jpg", class_photo(i % 2, 100 + i))
    return buf.getvalue()


@pytest.fixture
def seeded(tmp_path):
    """A live app with 16 labeled photos, a background zip import and a trained run."""
    # Zips of more than one photo become background imports, so GET /imports/{id} has one to find.
    live = LiveApp(tmp_path, app_env(tmp_path, WEBAPP_ZIP_SYNC_MEMBERS="1"))
    try:
        live.start()
        upload_labeled(live)
        queued = live.post("/api/v1/photos", files={"files": ("more.zip", photo_zip(3), "application/zip")})
        assert queued.status_code == 202, queued.text
        live.wait_for_worker()
        run = live.post("/api/v1/runs", json={"epochs": 2, "batch_size": 4})
        assert run.status_code == 202, run.text
        assert wait_run(live, run.json()["id"])["status"] == "succeeded"
        yield live
    finally:
        live.stop()


def schemathesis(live: LiveApp, token: str, report, *args: str) -> dict:
    """Run `schemathesis run` on the live app's document; its JSON report, with the requests it sent."""
    seed = os.environ.get("ST_SEED", "20260901")  # fixed for CI; set ST_SEED to explore other inputs
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{live.url}/api/v1/openapi.json"]
    command += ["--header", f"Authorization: Bearer {token}", "--checks", CHECKS, "--seed", seed]
    command += ["--workers", "1", "--request-timeout", "30", "--no-color"]
    command += ["--report", "json,har", "--report-dir", str(report), *args]
    report.mkdir()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=report.parent)
    output = done.stdout[-6000:] + done.stderr[-2000:]
    reports = {path.name.split("-")[0]: path for path in report.iterdir()}
    assert {"json", "har"} <= set(reports), output
    summary = json.loads(reports["json"].read_text())
    entries = json.loads(reports["har"].read_text())["log"]["entries"]
    summary["requests"] = [entry["request"]["method"] for entry in entries]
    summary["statuses"] = [entry["response"]["status"] for entry in entries]
    summary["output"] = output
    return summary


def assert_clean(summary: dict) -> None:
    """No failure of any check, no error, and every selected operation tested."""
    assert summary["failures"] == [] and summary["errors"] == [], summary["output"]
    assert summary["operations"]["tested"] == summary["operations"]["selected"], summary["output"]
    assert summary["exit_code"] == 0, summary["output"]
    assert [status for status in summary["statuses"] if status >= 500] == [], summary["output"]


def test_schemathesis_finds_no_server_error_and_no_reply_that_breaks_the_document(seeded, tmp_path):
    main = schemathesis(
        seeded, seeded.token, tmp_path / "main", "--max-examples", "12", "--exclude-path-regex", SIGN_OUT
    )
    assert_clean(main)
    assert seeded.get("/api/v1/me").status_code == 200  # the run stayed signed in: its requests were real
    spare = seeded.make_user("spare-admin", "spare-password-1", "admin")
    sign_out = schemathesis(
        seeded, spare, tmp_path / "sign_out", "--max-examples", "20", "--include-path-regex", SIGN_OUT
    )
    assert_clean(sign_out)
    requests = len(main["requests"]) + len(sign_out["requests"])
    print(
        f"schemathesis: {requests} requests, {main['test_cases']['generated']} + "
        f"{sign_out['test_cases']['generated']} test cases, {main['operations']['tested']} + "
        f"{sign_out['operations']['tested']} operations"
    )
    assert requests >= MIN_REQUESTS
    assert {"GET", "POST", "PATCH", "DELETE"} <= set(main["requests"])
