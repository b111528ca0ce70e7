"""Logging of `python -m webapp`: one short line per event by default, the details with --verbose."""

import logging
import os

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


class Once:
    """Remembers which messages were said, so a repeated warning is logged once per process."""

    def __init__(self) -> None:
        self._said: set[str] = set()

    def first_time(self, message: str) -> bool:
        """True the first time this message is seen."""
        if message in self._said:
            return False
        self._said.add(message)
        return True
