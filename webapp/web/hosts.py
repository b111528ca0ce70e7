"""Which Host headers the app answers (a DNS-rebinding guard): where it listens, plus WEBAPP_TRUSTED_HOSTS."""

import contextlib
import ipaddress
import socket

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
ANY_ADDRESS = ("0.0.0.0", "::", "")


def listens_on_all(host: str) -> bool:
    """Whether the app is bound to every interface."""
    return host in ANY_ADDRESS


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach an address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses (the ones a phone on the same network can reach)."""
    found: list[str] = []
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(info[4][0])
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it picks the outgoing address
        found.append(probe.getsockname()[0])
    return sorted({a for a in found if not is_loopback(a) and not a.startswith("0.")})


def _as_host(address: str) -> str:
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def trusted_hosts(listen_host: str, extra: str | list | None) -> list[str]:
    """Loopback names, the listen address; bound to all interfaces, the machine's names and LAN IPs too."""
    names = set(LOOPBACK)
    if listens_on_all(listen_host):
        hostname = socket.gethostname()
        names |= {hostname, f"{hostname}.local", socket.getfqdn(), *lan_addresses()}
    elif listen_host:
        names.add(_as_host(listen_host))
    if isinstance(extra, str):
        extra = [h.strip() for h in extra.split(",")]
    names |= {h.lower() for h in (extra or []) if h}
    return sorted(names)
