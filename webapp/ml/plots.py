"""Learning curves PNG (matplotlib's Agg canvas directly: no pyplot, no global backend switch)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def plot_learning_curves(history: Sequence[dict[str, Any]], out_path: str | os.PathLike) -> Path:
    """Loss and accuracy per epoch, train vs validation, written atomically as a PNG."""
    out_path = Path(out_path)
    fig = Figure(figsize=(9, 3.5))
    # Fixed margins: the constrained layout engine took 40 % of the plot's time (~60 ms of a warm run).
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.9, wspace=0.22)
    FigureCanvasAgg(fig)
    epochs = [row["epoch"] for row in history]
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "accuracy"), strict=True):
        for prefix, label in (("", "train"), ("val_", "validation")):
            values = [row.get(prefix + metric) for row in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [float("nan") if v is None else v for v in values], marker="o", label=label)
        ax.set_title(metric)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.lines:  # legend() on an empty axis warns (an error under pytest)
            ax.legend()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".tmp-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=100)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path
