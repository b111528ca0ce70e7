"""Model export files that only the worker can make (TFLite needs TensorFlow)."""

from flask import current_app
from huey.exceptions import HueyException, TaskException

from .. import tasks
from . import ServiceError
from .predictions import release_database
from .runs import get_run, model_dir

TFLITE_TIMEOUT = 300


def ensure_tflite(run_id: int) -> None:
    """Have the worker convert a run's model to TFLite once (the file is kept beside model.keras)."""
    run = get_run(run_id)
    if (model_dir(run_id) / "model.tflite").is_file() or not run.artifacts.get("model"):
        return
    if tasks.worker_status() != "ok":
        raise ServiceError(
            "No worker is running to convert the model; start one with `python -m webapp`", 503
        )
    result = tasks.task("export_tflite")(run_id)
    release_database()
    try:
        result.get(blocking=True, timeout=current_app.config.get("TFLITE_TIMEOUT", TFLITE_TIMEOUT))
    except TaskException as exc:
        raise ServiceError(f"The TFLite conversion failed: {exc.metadata.get('error')}", 500) from None
    except HueyException:
        raise ServiceError(
            "The TFLite conversion is taking long; try the download again in a minute", 503
        ) from None
