"""Start the app as a user does (`python -m webapp`, a real worker process) for end-to-end tests."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.accounts import ADMIN, PASSWORD, config_from_env, make_admin

ROOT = Path(__file__).resolve().parent.parent
SETUP_LINE = re.compile(r"First start: create the admin account at (http://\S+/setup/\S+)")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(instance: Path, **extra: str) -> dict:
    """Environment for an app on a temporary instance: random backbone, 32 px inputs."""
    env = dict(
        os.environ,
        WEBAPP_INSTANCE_PATH=str(instance),
        WEBAPP_BACKBONE_WEIGHTS="none",
        WEBAPP_IMAGE_SIZE="32",
        PYTHONUNBUFFERED="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    env.update(extra)
    return env


@dataclass
class LiveApp:
    """A running `python -m webapp` and, optionally, a separately started worker."""

    instance: Path
    env: dict
    port: int = field(default_factory=free_port)
    web: subprocess.Popen | None = None
    workers: list = field(default_factory=list)
    logs: list = field(default_factory=list)
    token: str = ""
    args: list = field(default_factory=list)  # more `python -m webapp` options (e.g. --verbose)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, with_worker: bool = True, with_admin: bool = True) -> "LiveApp":
        """Start the web server (and its worker unless told not to) and wait until it answers.

        with_admin=False leaves the app without any user, as on a first start (see setup_url).
        """
        args = [sys.executable, "-m", "webapp", "--port", str(self.port), *self.args] + (
            [] if with_worker else ["--no-worker"]
        )
        self.web = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env,
            stdout=self._log("web"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: self._healthy(), 90, "the app did not answer /healthz")
        if with_admin and not self.token:
            self.token = self.make_user(ADMIN, PASSWORD, "admin")
        return self

    def setup_url(self, timeout: float = 30) -> str:
        """The one-time setup link the app printed on a first start (no user yet)."""
        found = wait_until(
            lambda: SETUP_LINE.search(self.log_text("web")), timeout, "the app printed no setup link"
        )
        return found.group(1)

    def make_user(self, name: str, password: str, role: str = "labeler") -> str:
        """Create a user in the app's database (from this process) and return an API token of theirs."""
        from webapp import create_app

        app = create_app(config_from_env(self.env))
        try:
            return make_admin(app, name, password, role)
        finally:
            _dispose(app)

    @property
    def auth(self) -> dict:
        """The header that signs a request in as the admin."""
        return {"Authorization": f"Bearer {self.token}"}

    def start_worker(self) -> subprocess.Popen:
        """Start `python -m webapp worker` alone (its own process group)."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "webapp", "worker", "--workers", "1"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log(f"worker{len(self.workers)}"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(proc)
        return proc

    def wait_for_worker(self, timeout: float = 60) -> None:
        """Wait until /healthz reports a live worker."""
        wait_until(lambda: self.get("/healthz").json()["worker"] == "ok", timeout, "no worker came up")

    def _log(self, name: str):
        handle = open(self.instance / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self.logs.append(handle)
        return handle

    def _healthy(self) -> bool:
        if self.web.poll() is not None:
            raise RuntimeError(f"the app exited with {self.web.returncode}: {self.log_text('web')[-3000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log_text(self, name: str) -> str:
        """What a process printed."""
        path = self.instance / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def request(self, method: str, path: str, **kw):
        """Send a request as the admin (its API token; pass headers={"Authorization": ""} to send none)."""
        headers = {**self.auth, **kw.pop("headers", {})}
        headers = {k: v for k, v in headers.items() if v}
        return requests.request(method, self.url + path, headers=headers, timeout=kw.pop("timeout", 30), **kw)

    def get(self, path: str, **kw):
        """GET a path."""
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw):
        """POST a path (a token needs no CSRF token)."""
        return self.request("POST", path, **{"timeout": 60, **kw})

    def patch(self, path: str, **kw):
        """PATCH a path."""
        return self.request("PATCH", path, **kw)

    def stop(self) -> None:
        """Ctrl-C the app (it stops its worker) and stop separately started workers."""
        for proc in [self.web, *self.workers]:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT if proc is self.web else signal.SIGTERM)
        for proc in [self.web, *self.workers]:
            if proc is not None:
                try:
                    proc.wait(40)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        for handle in self.logs:
            handle.close()


def wait_until(predicate, timeout: float, message: str, interval: float = 0.3):
    """Poll predicate until it returns something truthy, or fail with message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{message} (after {timeout} s)")


def _dispose(app) -> None:
    from webapp.db import db

    with app.app_context():
        db.engine.dispose()
