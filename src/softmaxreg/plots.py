"""Figures drawn with matplotlib's non-interactive Agg backend: they work in scripts, over SSH
and in CI, with no display. SVG output is made reproducible (no date, fixed hash salt)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .fileio import atomic_path

CURVE_STYLES = (("train loss", "-"), ("train acc", "m--"), ("test acc", "g-."))


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    matplotlib.rcParams["svg.hashsalt"] = "softmaxreg"
    import matplotlib.pyplot as plt

    return plt


def curves_figure(history: Sequence, epochs: int | None = None):
    """The book's training figure: x = epoch 1..N, y in [0.3, 0.9], three curves."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3.5, 2.5), dpi=150)
    xs = [r.epoch for r in history]
    series = ([r.train_loss for r in history], [r.train_acc for r in history],
              [r.test_acc for r in history])  # fmt: skip
    for (label, fmt), ys in zip(CURVE_STYLES, series, strict=True):
        ax.plot(xs, ys, fmt, label=label)
    ax.set_xlabel("epoch")
    ax.set_xlim(1, max(epochs or len(xs), 2))
    ax.set_ylim(0.3, 0.9)
    ax.grid(True)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | Path, **kwargs) -> Path:
    """Save atomically; the format follows the suffix (.svg, .png, ...)."""
    path = Path(path)
    metadata = {"Date": None} if path.suffix == ".svg" else {"Software": None}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), metadata=metadata, **kwargs)
    return path


def save_curves(history: Sequence, folder: str | Path, epochs: int | None = None) -> list[Path]:
    plt = _pyplot()
    fig = curves_figure(history, epochs)
    try:
        return [save_figure(fig, Path(folder) / f"curves.{ext}") for ext in ("svg", "png")]
    finally:
        plt.close(fig)
