"""Machine learning for the app: VGG16 transfer learning on labeled photos.

Importing this package is cheap on purpose: the web process imports `webapp.ml.metrics`, `webapp.ml.params`
or `webapp.ml.errors` (numpy and the standard library only). Everything that needs TensorFlow lives in the
other modules (`backbone`, `features`, `model`, `train`, `artifacts`, `predict`, `pipeline`), which only the
worker imports.
"""

from webapp.ml.errors import MLError, TrainingCancelled, WeightsUnavailable
from webapp.ml.params import TrainParams

__all__ = ["MLError", "TrainParams", "TrainingCancelled", "WeightsUnavailable"]
