"""Figures drawn with matplotlib's Agg canvas (no pyplot, no display): they work in scripts,
over SSH and in CI. SVG output is reproducible (no date, fixed hash salt).

`CurvesWorker` draws the training curves in a child process started before torch is imported,
so that matplotlib's import overlaps torch's instead of adding to the run's time.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..fileio import atomic_path
from ..records.history import best_val_epoch

CURVE_STYLES = (("train loss", "-"), ("train acc", "m--"), ("test acc", "g-."))
# Drawn too when the run held out a validation split, with the epoch of the lowest validation
# loss marked: the one early stopping keeps.
VAL_STYLES = (("val loss", "c:"), ("val acc", "r:"))
BEST_STYLE = {"color": "0.45", "linestyle": (0, (4, 3)), "linewidth": 0.9}


def new_figure(figsize=(3.5, 2.5), dpi: int = 150):
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.hashsalt"] = "softmaxreg"
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


BOOK_YLIM = (0.3, 0.9)


def curves_ylim(history: Sequence) -> tuple[float, float]:
    """The book's y range, [0.3, 0.9], widened to show every value that lies outside it (a
    loss above 0.9 at a large learning rate, say)."""
    values = [
        v
        for r in history
        for key in ("train_loss", "train_acc", "test_acc", "val_loss", "val_acc")
        if isinstance(v := _get(r, key), (int, float)) and math.isfinite(v)
    ]
    low, high = min([BOOK_YLIM[0], *values]), max([BOOK_YLIM[1], *values])
    if (low, high) == BOOK_YLIM:
        return BOOK_YLIM
    pad = 0.03 * (high - low)  # off the frame, as matplotlib's own margins would
    return (low - pad if low < BOOK_YLIM[0] else low, high + pad if high > BOOK_YLIM[1] else high)


def curves_figure(history: Sequence, epochs: int | None = None, margins: dict | None = None):
    """The book's training figure: x = epoch 1..N, y in [0.3, 0.9] (wider where a value lies
    outside), three curves (five, and the best epoch marked, for a run with a validation
    split).

    `margins` (subplot parameters that `tight_layout` found for the same axes before) skip
    the extra draw that `tight_layout` needs to measure the labels; they are used only on
    the book's y range, whose tick labels a rehearsal measures."""
    from matplotlib.ticker import MaxNLocator

    fig = new_figure()
    ax = fig.add_subplot()
    xs = [_get(r, "epoch") for r in history]
    styles = list(zip(CURVE_STYLES, ("train_loss", "train_acc", "test_acc"), strict=True))
    if any(_get(r, "val_loss") is not None for r in history):
        styles += zip(VAL_STYLES, ("val_loss", "val_acc"), strict=True)
    for (label, fmt), key in styles:
        ax.plot(xs, [_get(r, key) for r in history], fmt, label=label)
    best = best_val_epoch(history)
    if best is not None:
        ax.axvline(best, label=f"best epoch ({best})", **BEST_STYLE)
    ax.set_xlabel("epoch")
    ax.set_xlim(1, max(epochs or len(xs), 2))
    # matplotlib's own choice of ticks (AutoLocator's), but whole epochs only: never 2.5
    ax.xaxis.set_major_locator(MaxNLocator("auto", steps=[1, 2, 2.5, 5, 10], integer=True))
    ylim = curves_ylim(history)
    ax.set_ylim(*ylim)
    ax.grid(True)
    ax.legend(loc="best", fontsize="small" if len(styles) > len(CURVE_STYLES) else None)
    if margins and ylim == BOOK_YLIM:
        fig.subplots_adjust(**margins)
    else:
        fig.tight_layout()
    return fig


def _get(record, key):
    # A run without a validation split has no val_* entries in its records' dicts.
    return record.get(key) if isinstance(record, dict) else getattr(record, key)


def save_figure(fig, path: str | Path, **kwargs) -> Path:
    """Save atomically; the format follows the suffix (.svg, .png, ...)."""
    path = Path(path)
    metadata = {"Date": None} if path.suffix == ".svg" else {"Software": None}
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), metadata=metadata, **kwargs)
    return path


def save_curves(
    history: Sequence,
    paths: Sequence[str | Path],
    epochs: int | None = None,
    margins: dict | None = None,
) -> list[Path]:
    """The curves figure, saved to each of `paths` (the format follows the suffix)."""
    return save_all(curves_figure(history, epochs, margins), paths)


def curves_job(history: Sequence, paths: Sequence[str | Path], epochs: int | None) -> dict:
    """A `save_curves` call as plain data, for a process that draws it elsewhere."""
    return {
        "history": [record_dict(r) for r in history],
        "paths": [str(p) for p in paths],
        "epochs": epochs,
    }


def subplot_margins(fig) -> dict[str, float]:
    """The subplot parameters a layout settled on, to give `curves_figure` next time."""
    return {k: float(getattr(fig.subplotpars, k)) for k in ("left", "right", "bottom", "top")}


class CurvesWorker:
    """A child process that imports matplotlib now, rehearses the figure for `epochs` while
    training runs, and draws the curves when asked."""

    def __init__(self, epochs: int | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "softmaxreg.views.plots", *([str(epochs)] if epochs else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def __call__(self, history: Sequence, paths: Sequence[str | Path], epochs: int | None = None):
        job = curves_job(history, paths, epochs)
        try:
            _, err = self.proc.communicate(json.dumps(job).encode(), timeout=120)
            if self.proc.returncode == 0:
                return [Path(p) for p in paths]
        except (OSError, subprocess.TimeoutExpired):
            self.close()
        return save_curves(history, paths, epochs)  # the worker failed: draw here instead

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def record_dict(record) -> dict:
    return record if isinstance(record, dict) else record.as_dict()


def rehearse_curves(epochs: int) -> dict:
    """Draw a stand-in of the curves figure once, in both formats, to nowhere: fonts, glyphs
    and renderers get loaded and cached, and the margins tight_layout finds are returned
    (they depend on the axes' labels only, which `epochs` fixes, not on the data)."""
    import io

    stand_in = [
        {"epoch": e, "train_loss": 0.5, "train_acc": 0.8, "test_acc": 0.8}
        for e in range(1, epochs + 1)
    ]
    fig = curves_figure(stand_in, epochs)
    for fmt in ("svg", "png"):
        fig.savefig(io.BytesIO(), format=fmt)
    return subplot_margins(fig)


def _serve() -> None:
    # matplotlib is imported and the figure rehearsed while the parent imports torch and
    # trains; when the job comes, only the real drawing is left.
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    margins = rehearse_curves(epochs)
    raw = sys.stdin.buffer.read()
    if not raw:
        return  # the parent finished without a run to draw
    job = json.loads(raw)
    fits = job["epochs"] == epochs
    save_curves(job["history"], job["paths"], job["epochs"], margins if fits else None)


def confusion_figure(confusion, classes: Sequence[str]):
    fig = new_figure(figsize=(6, 5.2), dpi=120)
    ax = fig.add_subplot()
    im = ax.imshow(confusion, cmap="Blues")
    k = len(classes)
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(k), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = confusion.max() or 1
    for i in range(k):
        for j in range(k):
            color = "white" if confusion[i, j] > top / 2 else "black"
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=6, color=color)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def weights_figure(weight, classes: Sequence[str], image_shape):
    """The learned template of each class: its row of W as an image (red +, blue -)."""
    k = len(classes)
    cols = min(k, 5)
    rows = -(-k // cols)
    fig = new_figure(figsize=(1.6 * cols, 1.8 * rows), dpi=120)
    bound = float(abs(weight).max()) or 1.0
    for i in range(k):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(weight[i].reshape(image_shape), cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(classes[i], fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def predictions_figure(images, true, predicted, classes: Sequence[str], n: int = 18):
    """The book's predict_ch3 grid: images with their true and predicted labels."""
    n = min(n, len(images))
    cols = min(n, 6)
    rows = -(-n // cols)
    fig = new_figure(figsize=(1.5 * cols, 1.75 * rows), dpi=120)
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(images[i], cmap="gray")
        ok = true is None or true[i] == predicted[i]
        guess = classes[predicted[i]]
        title = guess if true is None else f"{classes[true[i]]}\n{guess}"
        ax.set_title(title, fontsize=7, color="black" if ok else "red")
        ax.axis("off")
    fig.tight_layout()
    return fig


def save_all(fig, paths: Sequence[str | Path]) -> list[Path]:
    return [save_figure(fig, path) for path in paths]


if __name__ == "__main__":
    _serve()
    # The files are written and renamed; the interpreter's teardown (matplotlib's modules,
    # about 0.1 s) would only keep the waiting run waiting.
    sys.stderr.flush()
    os._exit(0)
