"""Model export files that only the worker can make (TFLite needs TensorFlow)."""

from flask import current_app
from huey.exceptions import HueyException, TaskException

from webapp import queue
from webapp.queue.heartbeat import worker_status
from webapp.services.errors import Failed, Unavailable
from webapp.services.predictions import release_database
from webapp.services.runs import get_run, model_dir

TFLITE_TIMEOUT = 300


def ensure_tflite(run_id: int) -> None:
    """Have the worker convert a run's model to TFLite once (the file is kept beside model.keras)."""
    run = get_run(run_id)
    if (model_dir(run_id) / "model.tflite").is_file() or not run.artifacts.get("model"):
        return
    if worker_status() != "ok":
        raise Unavailable("No worker is running to convert the model; start one with `python -m webapp`")
    result = queue.job("export_tflite")(run_id)
    release_database()
    try:
        result.get(blocking=True, timeout=current_app.config.get("TFLITE_TIMEOUT", TFLITE_TIMEOUT))
    except TaskException as exc:
        raise Failed(f"The TFLite conversion failed: {exc.metadata.get('error')}") from None
    except HueyException:
        raise Unavailable(
            "The TFLite conversion is taking long; try the download again in a minute"
        ) from None
