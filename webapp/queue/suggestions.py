"""Coordination of the suggestion job in the queue's key-value store: debounced, one at a time.

A label change notes the time, sets a pending flag and queues a job unless the flag was set already. Each
worker process also watches the flag (a cheap read, four times a second: Huey's own polling backs off to 10 s
when idle), so a round starts at once, in whichever process sees it first; the queued job then finds nothing
pending. A round takes a lock, waits until labels have paused for SETTLE_SECONDS, then reads the labels. A
job that finds the lock taken leaves a note (RERUN); the round holding the lock queues one more when it ends.
A burst of labels therefore costs one or two rounds, and no two rounds ever run at once.
"""

import logging
import time

from webapp import queue

log = logging.getLogger(__name__)

PENDING = "webapp.suggest.pending"
LOCK = "webapp.suggest.lock"
CHANGED = "webapp.suggest.changed"  # when a label last changed
FEATURES = "webapp.suggest.features"  # the feature cache folder of the default backbone (see feature_key)
RERUN = "webapp.suggest.rerun"  # a job found the lock taken: the round holding it runs once more
STALE_SECONDS = 120  # a lock or flag this old belonged to a dead worker (a round takes about a second)
SETTLE_SECONDS = 0.2
MAX_SETTLE_SECONDS = 1.0


def enqueue() -> bool:
    """After a label change: make sure a suggestion job will run; True if one was queued now."""
    try:
        queue_huey = queue.huey()
        queue_huey.put(CHANGED, time.time())
        if not _claim(queue_huey, PENDING):
            return False
        queue.job("suggest")()
        return True
    except Exception:  # the label is saved either way; the next change queues the job again
        log.exception("could not queue the suggestion job")
        return False


def _claim(queue_huey, key: str) -> bool:
    return queue.claim_key(queue_huey, key, STALE_SECONDS)


def begin(queue_huey, note: bool = True) -> bool | None:
    """Take the lock for a round: True (work to do), False (nothing pending: a watcher did it already, lock
    released) or None (another round is working; with note, it runs once more when it ends)."""
    if note:  # first: a round that releases the lock after this failed claim is sure to see it
        queue_huey.put(RERUN, time.time())
    if not _claim(queue_huey, LOCK):
        return None
    if note:
        queue_huey.delete(RERUN)  # this round reads the labels after every change that asked for it
    if queue_huey.get(PENDING, peek=True) is None:
        queue_huey.delete(LOCK)
        return False
    queue_huey.delete(PENDING)  # label changes from now on ask for the next round
    return True


def pending(queue_huey) -> bool:
    """Whether a label change waits for a round (a read: no lock taken)."""
    return queue_huey.get(PENDING, peek=True) is not None


def settle(queue_huey, sleep=time.sleep) -> None:
    """Wait (at most MAX_SETTLE_SECONDS) until no label has changed for SETTLE_SECONDS."""
    deadline = time.time() + MAX_SETTLE_SECONDS
    while time.time() < deadline:
        changed = queue_huey.get(CHANGED, peek=True) or 0
        quiet = time.time() - changed
        if quiet >= SETTLE_SECONDS:
            return
        sleep(min(SETTLE_SECONDS - quiet, deadline - time.time()) + 0.01)


def end(queue_huey) -> None:
    """In the job: release the lock; queue one more round if a job found it taken meanwhile."""
    queue_huey.delete(LOCK)
    if queue_huey.get(RERUN, peek=True) is not None:
        queue_huey.delete(RERUN)
        queue_huey.put(PENDING, time.time())
        queue.job("suggest")()


def remember_features(queue_huey, key: str) -> None:
    """Called where new photos' features are cached: where they are (the suggestion job loads no backbone)."""
    if queue_huey.get(FEATURES, peek=True) != key:
        queue_huey.put(FEATURES, key)


def feature_key(queue_huey) -> str | None:
    """The feature cache folder the suggestions read (None until a worker has cached features)."""
    return queue_huey.get(FEATURES, peek=True)
