"""Backbone weights: what WEBAPP_BACKBONE_WEIGHTS names for a backbone, its identity, and loading a file.

The setting is "imagenet" (Keras downloads its file once), "none" (random but fixed weights, created once
per instance: for tests) or a path. A path is either one weights file or a folder holding one file per
backbone under the names Keras itself uses (KERAS_FILES). Files may be in the legacy Keras .h5 format (the
files Keras downloads) or in Keras 3's .weights.h5 format, whatever their name ends with.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from pathlib import Path

from webapp.ml.errors import WeightsUnavailable
from webapp.params import BACKBONE_TITLES, IMAGENET_FILES

KERAS_FILES = IMAGENET_FILES
TITLES = BACKBONE_TITLES
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_hash_cache: dict[tuple[str, int, int], str] = {}


def spec_kind(weights_spec: str) -> str:
    """ "imagenet", "none" or "file" (a file or a folder) for a WEBAPP_BACKBONE_WEIGHTS value."""
    spec = str(weights_spec).strip()
    if spec.lower() == "imagenet":
        return "imagenet"
    if spec.lower() in ("none", "random"):
        return "none"
    if not spec:
        raise WeightsUnavailable("No backbone weights given: use imagenet, none or a path to a weights file.")
    return "file"


def weights_file(weights_spec: str, name: str) -> Path:
    """The file a path setting names for this backbone: the file itself, or Keras' file name in a folder."""
    path = Path(str(weights_spec).strip()).expanduser()
    if path.is_dir():
        found = path / KERAS_FILES[name]
        if not found.is_file():
            raise WeightsUnavailable(
                f"The folder {path} (WEBAPP_BACKBONE_WEIGHTS) has no {TITLES[name]} weights: put "
                f"{KERAS_FILES[name]} there (the file Keras downloads for {TITLES[name]} without its top), "
                f"or set WEBAPP_BACKBONE_WEIGHTS to imagenet (downloaded once) or none (random, for tests)."
            )
        return found
    if not path.is_file():
        raise WeightsUnavailable(
            f"The {TITLES[name]} weights file {path} does not exist. Set WEBAPP_BACKBONE_WEIGHTS to the path "
            f"of {KERAS_FILES[name]}, to a folder holding it, to imagenet (downloaded once) or to none "
            f"(random weights, for tests)."
        )
    return path


def file_identity(path: Path) -> str:
    """ "file-<sha256[:12]>" of a weights file (the same file in two places has one identity)."""
    return f"file-{sha256_prefix(path)}"


def sha256_prefix(path: Path, length: int = 12) -> str:
    """The file's SHA-256 (hex, cut), computed once per file version in this process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _hash_cache:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        _hash_cache[key] = digest.hexdigest()
    return _hash_cache[key][:length]


def load_weights_file(model, path: Path, name: str) -> None:
    """Load a legacy .h5 or a Keras 3 .weights.h5 file into a backbone; WeightsUnavailable in plain words."""
    try:
        fmt = _h5_format(path)
        with _named_for_keras(path, fmt) as usable, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.load_weights(str(usable))
        skipped = [str(w.message) for w in caught if "could not be loaded" in str(w.message)]
        if skipped:
            raise ValueError(skipped[0])
    except WeightsUnavailable:
        raise
    except Exception as exc:
        raise WeightsUnavailable(
            f"Could not load {TITLES[name]} weights from {path}: it is not a {TITLES[name]} "
            f"(include_top=False) Keras weights file such as {KERAS_FILES[name]} "
            f"({type(exc).__name__}: {_short(exc)}). WEBAPP_BACKBONE_WEIGHTS names one file for one "
            f"backbone; to train both, point it at a folder holding {KERAS_FILES['vgg16']} and "
            f"{KERAS_FILES['mobilenet_v2']}."
        ) from exc


def _h5_format(path: Path) -> str:
    """ "legacy" (Keras 2 / keras.applications .h5) or "keras3" (.weights.h5), read from the file itself."""
    with path.open("rb") as fh:
        if fh.read(8) != _HDF5_SIGNATURE:
            raise ValueError("not an HDF5 file")
    import h5py

    with h5py.File(path, "r") as f:
        if "layer_names" in f.attrs or "model_weights" in f:
            return "legacy"
        if "layers" in f or "vars" in f:
            return "keras3"
    raise ValueError("an HDF5 file without Keras weights")


@contextlib.contextmanager
def _named_for_keras(path: Path, fmt: str):
    """The file under a name whose ending tells Keras its format (a symlink when the name does not)."""
    wanted = ".weights.h5" if fmt == "keras3" else ".h5"
    fits = path.name.endswith(wanted) and (fmt == "keras3" or not path.name.endswith(".weights.h5"))
    if fits:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="weights-") as tmp:
        link = Path(tmp) / f"backbone{wanted}"
        os.symlink(path.resolve(), link)
        yield link


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
