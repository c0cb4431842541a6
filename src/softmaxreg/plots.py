"""Figures drawn with matplotlib's Agg canvas (no pyplot, no display): they work in scripts,
over SSH and in CI. SVG output is reproducible (no date, fixed hash salt).

`CurvesWorker` draws the training curves in a child process started before torch is imported,
so that matplotlib's import (about 0.6 s here) overlaps torch's instead of adding to the run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .fileio import atomic_path

CURVE_STYLES = (("train loss", "-"), ("train acc", "m--"), ("test acc", "g-."))


def new_figure(figsize=(3.5, 2.5), dpi: int = 150):
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.hashsalt"] = "softmaxreg"
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def curves_figure(history: Sequence, epochs: int | None = None):
    """The book's training figure: x = epoch 1..N, y in [0.3, 0.9], three curves."""
    fig = new_figure()
    ax = fig.add_subplot()
    xs = [_get(r, "epoch") for r in history]
    for (label, fmt), key in zip(CURVE_STYLES, ("train_loss", "train_acc", "test_acc"),
                                 strict=True):  # fmt: skip
        ax.plot(xs, [_get(r, key) for r in history], fmt, label=label)
    ax.set_xlabel("epoch")
    ax.set_xlim(1, max(epochs or len(xs), 2))
    ax.set_ylim(0.3, 0.9)
    ax.grid(True)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def _get(record, key):
    return record[key] if isinstance(record, dict) else getattr(record, key)


def save_figure(fig, path: str | Path, **kwargs) -> Path:
    """Save atomically; the format follows the suffix (.svg, .png, ...)."""
    path = Path(path)
    metadata = {"Date": None} if path.suffix == ".svg" else {"Software": None}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), metadata=metadata, **kwargs)
    return path


def save_curves(history: Sequence, folder: str | Path, epochs: int | None = None) -> list[Path]:
    fig = curves_figure(history, epochs)
    return [save_figure(fig, Path(folder) / f"curves.{ext}") for ext in ("svg", "png")]


class CurvesWorker:
    """A child process that imports matplotlib now and draws the curves when asked."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "softmaxreg.plots"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip

    def __call__(self, history: Sequence, folder: str | Path, epochs: int | None = None):
        job = {"history": [_as_dict(r) for r in history], "folder": str(folder),
               "epochs": epochs}  # fmt: skip
        try:
            _, err = self.proc.communicate(json.dumps(job).encode(), timeout=120)
            if self.proc.returncode == 0:
                return [Path(folder) / f"curves.{ext}" for ext in ("svg", "png")]
        except (OSError, subprocess.TimeoutExpired):
            self.close()
        return save_curves(history, folder, epochs)  # the worker failed: draw here instead

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _as_dict(record) -> dict:
    return record if isinstance(record, dict) else record.as_dict()


def _serve() -> None:
    new_figure()  # import matplotlib while the parent imports torch and trains
    raw = sys.stdin.buffer.read()
    if not raw:
        return  # the parent finished without a run to draw
    job = json.loads(raw)
    save_curves(job["history"], job["folder"], job["epochs"])


if __name__ == "__main__":
    _serve()
