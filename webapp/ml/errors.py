"""Exceptions the worker catches to write a plain error (or a cancelled status) on the run."""


class MLError(Exception):
    """Base class of the errors `webapp.ml` raises on purpose (their text is meant for the user)."""


class WeightsUnavailable(MLError):
    """The VGG16 backbone weights cannot be downloaded or loaded."""


class TrainingCancelled(MLError):
    """The user cancelled the run; raised at the next batch."""
