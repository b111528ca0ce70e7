"""On-disk cache of frozen-part features, one float16 .npy per photo (numpy only)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from webapp.ml.errors import TrainingCancelled

_SHA = re.compile(r"[0-9a-f]{16,128}")
_F16_MAX = float(np.finfo(np.float16).max)


def feature_key(identity: str, image_size: int, cut_layer: str, backbone: str = "vgg16") -> str:
    """Cache folder name: features depend on the backbone, its weights, the input size and where it is cut."""
    return f"{backbone}-{identity}-{int(image_size)}px-{cut_layer}"


class FeatureCache:
    """root/<key>/<sha[:2]>/<sha>.npy; writes are atomic (temp file + os.replace)."""

    def __init__(self, root: str | os.PathLike, key: str):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
            raise ValueError(f"Bad feature cache key {key!r}.")
        self.dir = Path(root) / key

    def path(self, sha: str) -> Path:
        """Where one photo's features live."""
        if not _SHA.fullmatch(sha):
            raise ValueError(f"Not a hex SHA-256: {sha!r}.")
        return self.dir / sha[:2] / f"{sha}.npy"

    def has(self, sha: str) -> bool:
        """Whether readable features of this photo are stored; a corrupt file counts as missing.

        Header, type and length are checked by mapping the file, without reading its data.
        """
        return _load(self.path(sha), mmap=True) is not None

    def get(self, sha: str) -> np.ndarray | None:
        """The stored float16 features, or None (also for an unreadable or foreign file)."""
        return _load(self.path(sha), mmap=False)

    def put(self, sha: str, features: np.ndarray) -> None:
        """Store one photo's features as float16 (clipped to its range)."""
        path = self.path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = np.clip(np.asarray(features, dtype=np.float32), -_F16_MAX, _F16_MAX).astype(np.float16)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, data, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def missing(self, shas: Iterable[str]) -> list[str]:
        """The shas (deduplicated, in order) whose features are not stored."""
        return [sha for sha in dict.fromkeys(shas) if not self.has(sha)]

    def many(self, shas: Sequence[str]) -> np.ndarray:
        """Stacked float16 features in the given order; KeyError names the first missing photo."""
        rows = []
        for sha in shas:
            row = self.get(sha)
            if row is None:
                # A file that went bad since ensure_features looked: gone, so the next run computes it.
                self.path(sha).unlink(missing_ok=True)
                raise KeyError(f"No cached features for photo {sha}.")
            rows.append(row)
        if not rows:
            raise ValueError("No photos given.")
        return np.stack(rows)


def _load(path: Path, mmap: bool) -> np.ndarray | None:
    """A float16 array stored by FeatureCache.put, or None when the file is missing, cut short or foreign."""
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # missing, truncated ("mmap length ..."), not a .npy
        return None
    return array if array.dtype == np.float16 else None


def ensure_features(
    cache: FeatureCache,
    extractor: Callable[[np.ndarray], np.ndarray],
    shas: Iterable[str],
    load_image: Callable[[str], np.ndarray],
    batch_size: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> int:
    """Compute and store the missing features in batches; returns how many were computed.

    on_progress(done, total) counts all requested photos (cached ones are done at once); should_cancel is
    checked before each batch and raises TrainingCancelled (what is computed so far stays cached).
    """
    wanted = list(dict.fromkeys(shas))
    todo = cache.missing(wanted)
    done = len(wanted) - len(todo)
    if on_progress:
        on_progress(done, len(wanted))
    for start in range(0, len(todo), batch_size):
        if should_cancel and should_cancel():
            raise TrainingCancelled("Training was cancelled while computing features.")
        batch = todo[start : start + batch_size]
        features = extractor(np.stack([load_image(sha) for sha in batch]).astype(np.float32))
        for sha, row in zip(batch, features, strict=True):
            cache.put(sha, row)
        done += len(batch)
        if on_progress:
            on_progress(done, len(wanted))
    return len(todo)
