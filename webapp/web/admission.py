"""Admission control: heavy requests (uploads) take one of a few slots, so the web server's other threads and
its CPU stay free for pages, thumbnails and lists while a crowd uploads."""

import threading

from flask import Flask, current_app, request

from webapp.services.errors import Unavailable

# Endpoint -> the config key of how many such requests may be processed at once.
HEAVY = {"api_photos.upload": "UPLOAD_CONCURRENCY"}
SLOT_WAIT_SECONDS = 30  # then 503 + Retry-After (the pages' JavaScript tries again)


def init_app(app: Flask) -> None:
    """Gate the heavy endpoints."""
    app.extensions["webapp_slots"] = {
        key: threading.BoundedSemaphore(app.config[key]) for key in set(HEAVY.values())
    }
    app.before_request(_take_slot)
    app.teardown_request(_give_back_slot)


def _take_slot() -> None:
    key = HEAVY.get(request.endpoint or "")
    if key is None:
        return
    slots = current_app.extensions["webapp_slots"][key]
    if not slots.acquire(timeout=current_app.config.get("SLOT_WAIT_SECONDS", SLOT_WAIT_SECONDS)):
        raise Unavailable("The server is busy storing other uploads; try again in a moment", retry_after=2)
    request.environ["webapp.slot"] = slots


def _give_back_slot(_exc=None) -> None:
    slots = request.environ.pop("webapp.slot", None)
    if slots is not None:
        slots.release()
