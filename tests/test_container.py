"""The container image and the compose stack, built and run for real with podman (.ci/run installs it).

One image build per session (podman's layer cache makes a rebuild after a code change take seconds).
"""

import re
import subprocess
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, text

from tests.containers import (
    IMAGE,
    STOP_TIMEOUT,
    Relay,
    admin_token,
    build_image,
    exit_code,
    fill_env,
    network_subnet,
    ok,
    podman,
    remove,
    require_podman,
    unique,
    users_of,
)
from tests.images import class_photo
from tests.live import ROOT, LiveApp, free_port, wait_until
from tests.test_scale_out import pg_url, redis_url  # noqa: F401 - fixtures
from tests.test_worker import upload_labeled, wait_run

SMALL = ["WEBAPP_BACKBONE_WEIGHTS=none", "WEBAPP_IMAGE_SIZE=32"]
APP_USER = "app"


@pytest.fixture(scope="session")
def image():
    """The image, built once per session from the working tree."""
    require_podman()
    started = time.monotonic()
    ok(build_image())
    print(f"image built in {time.monotonic() - started:.0f} s")
    return IMAGE


def client(tmp_path, port: int, token: str = "") -> LiveApp:
    """Requests to the app published on 127.0.0.1:port (LiveApp's request helpers; nothing started here)."""
    return LiveApp(tmp_path, {}, port=port, token=token)


def wait_healthy(app: LiveApp, container: str) -> None:
    """/healthz says "ok" through the published port, and podman's run of the image's HEALTHCHECK passes."""

    def healthy() -> bool:
        if podman("container", "exists", container).returncode == 0 and not running(container):
            raise AssertionError(f"{container} exited: {podman('logs', container).stderr[-3000:]}")
        try:
            return app.get("/healthz", timeout=3).json()["status"] == "ok"
        except Exception:  # not listening yet
            return False

    wait_until(healthy, 180, f"{container} never answered /healthz")
    check = podman("healthcheck", "run", container)
    assert check.returncode == 0, check.stdout + check.stderr


def running(container: str) -> bool:
    """Whether the container is up."""
    return ok(podman("inspect", container, "--format", "{{.State.Running}}")).strip() == "true"


def run_app(name: str, volume: str, port: int, *extra: str) -> None:
    """`podman run` the image as the README says: a volume, the port published on loopback, SQLite inside."""
    env = [a for pair in SMALL for a in ("--env", pair)]
    publish = ["--network", "slirp4netns", "--publish", f"127.0.0.1:{port}:5000"]
    ok(
        podman(
            "run",
            "--detach",
            "--name",
            name,
            "--volume",
            f"{volume}:/app/instance",
            *publish,
            *env,
            *extra,
            IMAGE,
        )
    )


def train_and_predict_all(app: LiveApp, photos: int) -> dict:
    """Press Train; the run succeeds and every photo gets a prediction."""
    app.wait_for_worker(120)
    response = app.post("/api/v1/runs", json={"epochs": 10, "batch_size": 8})
    assert response.status_code == 202, response.text
    run = wait_run(app, response.json()["id"], timeout=300)
    assert run["status"] == "succeeded", run["error"]
    assert app.get(f"/api/v1/runs/{run['id']}/predictions").json()["total"] == photos
    return run


@pytest.mark.container
@pytest.mark.slow
def assert_kept(app: LiveApp, trained: dict, stopped_id: int) -> None:
    """The photos, the trained run (still the active model) and the stopped run, as they were."""
    assert app.get("/api/v1/photos").json()["total"] == 12
    done = app.get(f"/api/v1/runs/{trained['id']}").json()
    assert done["status"] == "succeeded" and done["active"] is True
    assert done["metrics"] == trained["metrics"]
    cut = app.get(f"/api/v1/runs/{stopped_id}").json()
    assert cut["status"] == "failed" and cut["has_model_files"] is False
    # Recorded by the stopping worker itself (a later worker failing it as dead says "The worker stopped").
    assert re.fullmatch(r"The worker was stopped during epoch \d+; press Train to start again", cut["error"])


def test_the_image_trains_stops_cleanly_and_keeps_everything_in_its_volume(image, tmp_path):
    first, second, volume, port = unique("pt-app-"), unique("pt-app-"), unique("pt-data-"), free_port()
    baked = tmp_path / "baked.weights.h5"  # stands for weights baked in with BAKE_WEIGHTS
    baked.write_bytes(b"weights")
    baked.chmod(0o644)
    app = client(tmp_path, port)
    try:
        run_app(first, volume, port, "--volume", f"{baked}:/opt/keras/models/{baked.name}:ro")
        wait_healthy(app, first)
        assert users_of(first) == {APP_USER}  # tini, the web server, the worker and its forked processes
        assert ok(podman("exec", first, "id", "-u")).strip() != "0"
        # Baked weights joined the Keras cache inside the volume (KERAS_HOME), where downloads land too.
        ok(podman("exec", first, "test", "-f", f"/app/instance/keras/models/{baked.name}"))
        app.token = admin_token(first)
        upload_labeled(app, per_class=6)
        trained = train_and_predict_all(app, photos=12)

        # A clean stop in the middle of a run: it ends on its own (not killed at the timeout: exit code 0,
        # where the kill gives 137), and the run says in plain words that it was stopped, without model files.
        stopped = app.post("/api/v1/runs", json={"epochs": 200, "batch_size": 1}).json()
        wait_until(
            lambda: app.get(f"/api/v1/runs/{stopped['id']}").json()["progress"].get("epoch"), 120, "no epoch"
        )
        ok(podman("stop", "--time", str(STOP_TIMEOUT), first))
        assert exit_code(first) == 0, podman("logs", first).stderr[-3000:]

        # Started again, it has every photo, both runs and the active model.
        ok(podman("start", first))
        wait_healthy(app, first)
        assert_kept(app, trained, stopped["id"])
        assert podman("exec", first, "test", "-e", f"/app/instance/models/{stopped['id']}").returncode == 1
        photo = {"file": ("x.jpg", class_photo(1, 99), "image/jpeg")}
        answer = wait_until(
            lambda: (r := app.post("/api/v1/predict", files=photo)).status_code == 200 and r, 120, "no answer"
        )
        assert answer.json()["run_id"] == trained["id"]

        # So does a new container on the same volume: everything lives in the volume.
        ok(podman("stop", "--time", str(STOP_TIMEOUT), first))
        ok(podman("rm", first))
        run_app(second, volume, port)
        wait_healthy(app, second)
        assert_kept(app, trained, stopped["id"])
    finally:
        remove(first, second, volumes=(volume,))


@pytest.mark.container
@pytest.mark.slow
def test_baking_weights_without_internet_fails_the_build_saying_why(image):
    result = build_image("BAKE_WEIGHTS=vgg16")
    if result.returncode == 0:  # a machine online: the weights are in the image, ready for the volume
        listing = ok(podman("run", "--rm", "--entrypoint", "ls", IMAGE, "/opt/keras/models"))
        ok(build_image())  # the plain image back under its tag for the other tests
        assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in listing
        return
    out = result.stdout + result.stderr
    assert "BAKE_WEIGHTS: could not download the ImageNet weights of vgg16" in out
    assert "Build without" in out and "--build-arg BAKE_WEIGHTS" in out


def _stack_urls(pg: str, redis: str, gateway: str, pg_port: int, redis_port: int) -> dict[str, str]:
    def moved(url: str, port: int) -> str:
        parts = urlsplit(url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}{gateway}:{port}"))

    return {"TEST_DATABASE_URL": moved(pg, pg_port), "TEST_QUEUE_URL": moved(redis, redis_port)}


@pytest.mark.container
@pytest.mark.slow
def test_the_compose_stack_trains_with_two_workers_and_down_keeps_the_volumes(
    image,
    tmp_path,
    pg_url,  # noqa: F811 - a fresh schema in this machine's PostgreSQL
    redis_url,  # noqa: F811 - this helper's Redis database, emptied
):
    project, port = unique("ptstack"), free_port()
    network = f"{project}_default"
    ok(podman("network", "create", network))
    gateway, subnet = network_subnet(network)
    relays = [Relay(5432, subnet), Relay(6379, subnet)]
    folder = tmp_path / "stack"  # compose.yaml as shipped, beside the test's .env (podman-compose reads it)
    folder.mkdir()
    (folder / "compose.yaml").write_text((ROOT / "compose.yaml").read_text())
    (folder / "compose.test.yaml").write_text((ROOT / "tests" / "compose.test.yaml").read_text())
    values = {
        "POSTGRES_PASSWORD": "unused-here-1",
        "REDIS_PASSWORD": "unused-here-2",
        "WEBAPP_PORT": str(port),
        "WEBAPP_WORKER_PROCESSES": "1",
        "WEBAPP_BACKBONE_WEIGHTS": "none",
        "WEBAPP_IMAGE_SIZE": "32",
        "WEBAPP_IMAGE": IMAGE,
        **_stack_urls(pg_url, redis_url, gateway, relays[0].port, relays[1].port),
    }
    (folder / ".env").write_text(fill_env((ROOT / ".env.example").read_text(), values))
    compose = ["podman-compose", "--project-name", project, "-f", "compose.yaml", "-f", "compose.test.yaml"]

    def stack(*args: str) -> None:
        done = subprocess.run([*compose, *args], cwd=folder, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    volumes = tuple(f"{project}_{v}" for v in ("instance", "postgres", "redis"))
    try:
        stack("up", "--detach")
        web, workers = f"{project}_web_1", [f"{project}_worker_1", f"{project}_worker_2"]
        app = client(tmp_path, port)
        wait_healthy(app, web)  # through the port compose.yaml publishes: the app listens where it says
        for container in [web, *workers]:
            assert users_of(container) == {APP_USER}
        app.token = admin_token(web)
        upload_labeled(app, per_class=6)
        train_and_predict_all(app, photos=12)
        engine = create_engine(pg_url)
        with engine.connect() as conn:
            beats = conn.execute(text("SELECT name FROM worker_beat")).scalars().all()
        engine.dispose()
        assert len({name.rsplit(":", 1)[0] for name in beats}) == 2, beats  # both replicas' hosts beat
        stack("down", "--timeout", str(STOP_TIMEOUT))
        for volume in volumes:
            assert podman("volume", "exists", volume).returncode == 0, f"down removed {volume}"
    finally:
        subprocess.run([*compose, "down", "--timeout", "5"], cwd=folder, capture_output=True, timeout=300)
        for relay in relays:
            relay.close()
        remove(volumes=volumes)
        podman("network", "rm", "--force", network)


def test_compose_has_no_default_password_and_env_is_ignored():
    compose = (ROOT / "compose.yaml").read_text()
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD"):
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", compose)
        assert uses and all(use.startswith(":?") for use in uses), (name, uses)  # required, never defaulted
    example = (ROOT / ".env.example").read_text()
    assert re.search(r"^POSTGRES_PASSWORD=$", example, re.M) and re.search(
        r"^REDIS_PASSWORD=$", example, re.M
    )
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert ignored.returncode == 0
