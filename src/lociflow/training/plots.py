"""Training curves as PNG files, redrawn after every epoch so a viewer can follow them live."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from lociflow.io.atomic import atomic_open

CURVES = {
    "loss": ("Loss", ("train_loss", "val_loss")),
    "accuracy": ("Accuracy", ("train_accuracy", "val_accuracy")),
    "auroc": ("Validation AUROC (macro)", ("val_auroc",)),
}


def plot_history(rows: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Write ``loss.png``, ``accuracy.png`` and ``auroc.png`` into ``folder`` (atomically)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    folder = Path(folder)
    written = []
    epochs = [row["epoch"] for row in rows]
    for stem, (title, keys) in CURVES.items():
        fig = Figure(figsize=(5, 3.2), dpi=100)
        ax = fig.add_subplot()
        for key in keys:
            values = [row.get(key, math.nan) for row in rows]
            ax.plot(epochs, values, marker="o", markersize=3, label=key.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend()
        fig.subplots_adjust(left=0.16, right=0.97, bottom=0.15, top=0.9)  # tight_layout costs more than the plot
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        path = folder / f"{stem}.png"
        with atomic_open(path, "wb") as handle:
            handle.write(buffer.getvalue())
        written.append(path)
    return written
