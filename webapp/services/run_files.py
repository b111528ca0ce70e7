"""A run's downloadable files: learning curves, the .keras model, the TFLite model and labels.json."""

from dataclasses import dataclass
from pathlib import Path

from webapp.services.errors import NotFound
from webapp.services.runs import get_run, model_dir

# Download name -> (artifact key in the run row, MIME type); model.tflite and its 8-bit twin are made by a
# worker job on request (webapp.services.model_export).
RUN_FILES = {
    "curves.png": ("curves", "image/png"),
    "model.keras": ("model", "application/octet-stream"),
    "model.tflite": (None, "application/octet-stream"),
    "model-int8.tflite": (None, "application/octet-stream"),
    "labels.json": ("labels", "application/json"),
}


@dataclass(frozen=True)
class RunFile:
    """A file to send: where it is, its type and the name the browser saves it under."""

    path: Path
    mimetype: str
    download_name: str


def run_file(run_id: int, name: str) -> RunFile:
    """One of a run's files, or NotFound (unknown name, or the run's files were deleted)."""
    run = get_run(run_id)
    if name not in RUN_FILES:
        raise NotFound("No such file")
    key, mimetype = RUN_FILES[name]
    path = model_dir(run_id) / (run.artifacts.get(key, name) if key else name)
    if not run.artifacts or not path.is_file():
        raise NotFound(f"Run {run_id} has no {name} (its files may have been deleted)")
    return RunFile(path, mimetype, f"run{run_id}-{name}")
