"""What `python -m webapp` prints on start: where to open the app (a QR code for phones), the setup link."""

import io

import segno
from flask import Flask

from webapp.services import accounts
from webapp.web import hosts


def start_lines(app: Flask, host: str, port: int) -> list[str]:
    """The URLs to open, a terminal QR code of the LAN URL, and on a first start the one-time setup link."""
    local = f"http://127.0.0.1:{port}"
    lines = [f"Serving on {local}  (instance: {app.instance_path})"]
    if hosts.listens_on_all(host):
        lan = [f"http://{address}:{port}" for address in hosts.lan_addresses()]
        lines += [f"  on your network: {url}" for url in lan]
        if lan:
            lines += [
                "  scan to open it on a phone (then sign it in from the Upload page):",
                _terminal_qr(lan[0]),
            ]
    elif not hosts.is_loopback(host):
        lines.append(f"  on your network: http://{host}:{port}")
    with app.app_context():
        if not accounts.has_users():
            token = accounts.new_link("setup")
            lines.append(f"First start: create the admin account at {local}/setup/{token}")
    return lines


def _terminal_qr(url: str) -> str:
    out = io.StringIO()
    segno.make(url, error="l").terminal(out=out, compact=True)
    return out.getvalue().rstrip("\n")
