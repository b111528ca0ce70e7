"""Podman for the container tests: the image, containers, the compose stack, and a relay to this machine's
PostgreSQL and Redis for containers on a compose network."""

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import threading
import uuid

import pytest

from tests.live import ROOT

BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
IMAGE = "localhost/photo-trainer:test"
SETUP = "../shared/tools/containers-here.sh"
STOP_TIMEOUT = 45  # seconds: compose.yaml's stop_grace_period, the README's --stop-timeout


def require_podman() -> None:
    """Skip (fail under CI) unless podman, podman-compose and the local base image are here."""
    reason = None
    if not (shutil.which("podman") and shutil.which("podman-compose")):
        reason = f"podman or podman-compose is missing: run `bash {SETUP}` as root (it installs them)"
    elif podman("image", "exists", BASE_IMAGE).returncode != 0:
        reason = f"{BASE_IMAGE} is missing (no registry here): run `bash {SETUP}` as root to build it"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def podman(*args: str, timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
    """Run `podman ARGS`; stdout and stderr as text (podman's systemd complaints go to stderr)."""
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, input=input, cwd=ROOT
    )


def ok(result: subprocess.CompletedProcess) -> str:
    """The stdout of a command that must succeed."""
    assert result.returncode == 0, f"{result.args} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def build_image(*build_args: str) -> subprocess.CompletedProcess:
    """`podman build --format docker` of the repository (HEALTHCHECK needs the docker format)."""
    args = [f"--build-arg={a}" for a in build_args]
    return podman("build", "--format", "docker", *args, "--tag", IMAGE, str(ROOT), timeout=1200)


def unique(prefix: str) -> str:
    """A fresh name for a container, volume or compose project."""
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def admin_token(container: str, name: str = "admin", password: str = "admin-password-1") -> str:
    """Create an admin inside the container with the app's own command and return a new API token."""
    flask = ["exec", "-i", container, "flask", "--app", "webapp", "user"]
    ok(podman(*flask, "add", name, "--role", "admin", "--password-stdin", input=password + "\n"))
    return ok(podman(*flask, "token", name)).strip().splitlines()[-1]


def users_of(container: str) -> set[str]:
    """The users that the container's processes run as."""
    lines = ok(podman("top", container, "user")).splitlines()[1:]
    return {line.strip() for line in lines if line.strip()}


def exit_code(container: str) -> int:
    """How the container's main process ended."""
    return int(ok(podman("inspect", container, "--format", "{{.State.ExitCode}}")).strip())


def remove(*names: str, volumes: tuple[str, ...] = ()) -> None:
    """Remove containers and volumes this test made (quietly: some may not exist)."""
    for name in names:
        podman("rm", "--force", "--time", "5", name)
    for volume in volumes:
        podman("volume", "rm", "--force", volume)


def network_subnet(network: str) -> tuple[str, ipaddress.IPv4Network]:
    """(gateway, subnet) of a podman network."""
    template = "{{range .Subnets}}{{.Gateway}} {{.Subnet}}{{end}}"
    gateway, subnet = ok(podman("network", "inspect", network, "--format", template)).split()
    return gateway, ipaddress.ip_network(subnet)


class Relay:
    """Forward TCP connections from containers on one podman network to a service on 127.0.0.1.

    It listens on every address (the network's bridge appears only once a container joins it) but accepts
    only peers from that network's subnet; everyone else is hung up on at once.
    """

    def __init__(self, target_port: int, allowed: ipaddress.IPv4Network):
        self.target_port, self.allowed = target_port, allowed
        self.server = socket.create_server(("0.0.0.0", 0))
        self.port = self.server.getsockname()[1]
        self.open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, (peer, _port) = self.server.accept()
            except OSError:  # closed
                return
            if ipaddress.ip_address(peer) not in self.allowed:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self.open |= {client, upstream}
            threading.Thread(target=self._relay, args=(client, upstream), daemon=True).start()

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        for sock in (client, upstream):
            self.open.discard(sock)
            sock.close()

    def close(self) -> None:
        """Stop accepting connections and hang up those still open."""
        self.server.close()
        for sock in list(self.open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def fill_env(example: str, values: dict[str, str]) -> str:
    """An .env made from .env.example as a user makes it: its KEY= lines filled in, other keys appended."""
    lines, seen = [], set()
    for line in example.splitlines():
        key = line.split("=", 1)[0].strip()
        if "=" in line and not line.lstrip().startswith("#") and key in values:
            line = f"{key}={values[key]}"
            seen.add(key)
        lines.append(line)
    lines += [f"{k}={v}" for k, v in values.items() if k not in seen]
    return "\n".join(lines) + "\n"
