"""Logging of `python -m webapp`: one short line per event by default, the details with --verbose."""

import hashlib
import logging
import os
import shutil
import tempfile
import threading

QUIET_BY_DEFAULT = ("alembic", "huey", "waitress.queue", "flask_migrate", "absl", "tensorflow", "h5py")


def configure(verbose: bool = False) -> None:
    """Set up the root logger once; child processes inherit --verbose through WEBAPP_VERBOSE."""
    if verbose:
        os.environ["WEBAPP_VERBOSE"] = "1"
    verbose = verbose or bool(os.environ.get("WEBAPP_VERBOSE"))
    fmt = (
        "%(asctime)s %(name)s %(levelname)s %(message)s"
        if verbose
        else "%(asctime)s %(levelname)s %(message)s"
    )
    logging.basicConfig(level=logging.INFO, format=fmt, datefmt="%H:%M:%S")
    if not verbose:
        for name in QUIET_BY_DEFAULT:
            logging.getLogger(name).setLevel(logging.WARNING)


SAID_DIR = "WEBAPP_SAID_DIR"


def share_once_between_processes() -> str:
    """Let the processes forked after this call say a repeated warning once between them (a folder of
    markers named in the environment, which forked workers inherit); returns the folder to remove later."""
    folder = tempfile.mkdtemp(prefix="webapp-said-")
    os.environ[SAID_DIR] = folder
    return folder


def forget_shared(folder: str) -> None:
    """Remove the markers folder made by share_once_between_processes."""
    os.environ.pop(SAID_DIR, None)
    shutil.rmtree(folder, ignore_errors=True)


class Once:
    """Remembers which messages were said, so a repeated warning is logged once: once between the worker
    processes of one consumer when share_once_between_processes was called before they forked, else once
    per process."""

    def __init__(self) -> None:
        self._said: set[str] = set()
        self._lock = threading.Lock()

    def first_time(self, message: str) -> bool:
        """True the first time this message is seen."""
        with self._lock:
            if message in self._said:
                return False
            self._said.add(message)
        return _first_among_processes(message)


def _first_among_processes(message: str) -> bool:
    folder = os.environ.get(SAID_DIR)
    if not folder:
        return True
    marker = os.path.join(folder, hashlib.sha256(message.encode()).hexdigest())
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:  # the folder went away: saying it twice beats never saying it
        return True
    return True
