"""Where the worker's feature cache keeps its files, as the web side and the CLI need to tidy it.

The cache itself is webapp.ml.features.FeatureCache (the web side never imports webapp.ml):
    instance/features/<key>/<sha[:2]>/<sha>.npy     one file per photo and key (weights, size, cut layer)
Files named .tmp-* are writes in progress (or left by a killed worker).
"""

from collections.abc import Iterator
from pathlib import Path


def key_folders(root: Path) -> list[Path]:
    """The cache's key folders (one per backbone, input size and cut layer)."""
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def remove_features(root: Path, sha: str) -> int:
    """Delete a photo's cached features under every key; how many files went."""
    removed = 0
    for key in key_folders(root):
        path = key / sha[:2] / f"{sha}.npy"
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def feature_files(key: Path) -> Iterator[tuple[str, Path]]:
    """(sha or "" for a file that is not a photo's features, path) of every file under one key folder."""
    for shard in sorted(p for p in key.iterdir() if p.is_dir()):
        for path in sorted(shard.iterdir()):
            name = path.name
            is_photo = path.suffix == ".npy" and not name.startswith(".") and name[:2] == shard.name
            yield (path.stem if is_photo else ""), path
