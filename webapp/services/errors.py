"""Domain errors the services raise: plain words a person can act on. The web side maps each to a status."""


class ServiceError(Exception):
    """A failure the user can act on; `extra` carries data for the reply (the run in progress, counts)."""

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class InvalidInput(ServiceError):
    """The request itself is wrong: a missing or malformed field, an unknown value."""


class NotFound(ServiceError):
    """The thing asked for does not exist (or no longer does)."""


class Conflict(ServiceError):
    """The request clashes with the current state: a name taken, a run in progress."""


class TooLarge(ServiceError):
    """A file or request over a size or count limit."""


class Unavailable(ServiceError):
    """A part the request needs is down or busy (no worker, the queue, a locked database); try again."""

    def __init__(self, message: str, retry_after: int | None = None, **extra):
        super().__init__(message, **extra)
        self.retry_after = retry_after


class Failed(ServiceError):
    """Work that should have succeeded failed (the worker's error is in the words)."""


class StorageFull(ServiceError):
    """The disk holding the instance folder is full."""


class Forbidden(ServiceError):
    """The signed-in user's role does not allow this."""
