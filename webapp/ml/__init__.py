"""Machine learning for the app: VGG16 transfer learning on labeled photos.

Only the worker process (and the `flask train`/`predict` commands) imports it: the web side never does, an
import-linter contract checks it. Its functions take arrays and paths and return files and scores; none
of them knows Flask or the database.
"""

from webapp.ml.errors import MLError, TrainingCancelled, WeightsUnavailable

__all__ = ["MLError", "TrainingCancelled", "WeightsUnavailable"]
