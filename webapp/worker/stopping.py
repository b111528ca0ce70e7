"""A stop asked of this worker process (SIGTERM: `docker stop`, compose down, the web process stopping).

A training run stops at its next safe point (the next batch, the next batch of features, the next stage),
where it checks for Cancel too, and records itself failed in plain words: an interrupt raised inside
TensorFlow reaches Python mangled ("pybind11::error_already_set: MISMATCH ... REPLACED BY
KeyboardInterrupt"), and a second SIGTERM (multiprocessing's exit handler sends one a second after the
consumer's) would cut short the run's clean-up. Other jobs are interrupted as Huey does it.
"""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = threading.Event()
_cooperating = threading.Event()  # a job that checks requested() runs in this process


def requested() -> bool:
    """Whether this process was asked to stop while its job checks for it."""
    return _requested.is_set()


@contextmanager
def cooperating() -> Iterator[None]:
    """Run a job that checks requested() at its safe points: SIGTERM asks instead of interrupting it."""
    _cooperating.set()
    try:
        yield
    finally:
        _cooperating.clear()
        _requested.clear()


def install() -> None:
    """In a forked worker, after Huey's own set-up: SIGTERM asks a cooperating job to stop, else Huey's."""
    interrupt = signal.getsignal(signal.SIGTERM)  # Huey's: KeyboardInterrupt while a job runs

    def handler(signum, frame) -> None:
        if _cooperating.is_set():
            _requested.set()
        elif callable(interrupt):
            interrupt(signum, frame)

    signal.signal(signal.SIGTERM, handler)
