"""The book's figures, everywhere: inside Jupyter they are shown (and redrawn in place while
training runs); in a plain script, where the book's figures would silently vanish, each is saved
to a file whose path is printed once on stdout ("figure: PATH").

Files go to $SOFTMAXREG_FIGURES (default: the current folder) as d2l-figure-N.svg, numbered in
the order the figures were made. Figures drawn with pyplot (`d2l.plot`, `d2l.plt.scatter`) are
saved when the next drawing begins and at exit, because only then are they known to be done.
"""

from __future__ import annotations

import atexit
import io
import os
import sys
import time
import weakref
from pathlib import Path

from ..views.plots import new_figure, save_figure

FIGURES_ENV = "SOFTMAXREG_FIGURES"
_counter = 0
# Objects that may hold a drawing not yet shown (ProgressBoard throttles its redraws); each
# has a `flush()` method. Weak: a board that is gone has nothing left to show.
_pending: weakref.WeakSet = weakref.WeakSet()
_hooks_installed = False


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where figures can be displayed inline)."""
    shell = sys.modules.get("IPython")
    try:
        return bool(shell) and shell.get_ipython().__class__.__name__ == "ZMQInteractiveShell"
    except Exception:
        return False


def next_figure_path(suffix: str = ".svg") -> Path:
    """A fresh file name for the next figure, in $SOFTMAXREG_FIGURES or the current folder."""
    global _counter
    _counter += 1
    return Path(os.environ.get(FIGURES_ENV, ".")) / f"d2l-figure-{_counter}{suffix}"


def display_svg(fig, handle=None):
    """Show `fig` inline as SVG; with `handle` (from an earlier call), replace that drawing."""
    from IPython import display

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = display.SVG(data=buf.getvalue())
    if handle is None:
        return display.display(svg, display_id=True)
    handle.update(svg)
    return handle


class LiveFigure:
    """A figure drawn into again and again: each `show()` saves it to its file (announced once)
    and, inside Jupyter, updates the one inline drawing instead of adding another."""

    def __init__(self, figsize=(3.5, 2.5), path: str | Path | None = None, fig=None) -> None:
        self.fig = fig if fig is not None else new_figure(figsize=figsize)
        self.path = Path(path) if path else next_figure_path()
        self._announced = False
        self._handle = None

    def show(self) -> None:
        save_figure(self.fig, self.path)
        if in_notebook():
            self._handle = display_svg(self.fig, self._handle)
        elif not self._announced:
            print(f"figure: {self.path}", flush=True)
            self._announced = True


def keep_pending(obj) -> None:
    """Remember `obj` (it has `flush()`) until the drawing is shown: after the cell in Jupyter,
    at exit in a script, or when `flush_all()` is called."""
    _install_hooks()
    _pending.add(obj)


def flush_all() -> None:
    """Show every drawing still pending, and save the pyplot figures of a script."""
    for obj in list(_pending):
        obj.flush()
    save_pyplot_figures()


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(flush_all)
    if in_notebook():
        shell = sys.modules["IPython"].get_ipython()
        shell.events.register("post_execute", flush_all)


# -- pyplot, the way the book draws its plots ---------------------------------------------------


def pyplot():
    """matplotlib.pyplot (`d2l.plt`), imported on first use: it costs about half a second.

    Outside Jupyter, with no backend chosen ($MPLBACKEND), pyplot draws with Agg: the figures
    become files (see `save_pyplot_figures`), never windows that would block a script."""
    if "matplotlib.pyplot" not in sys.modules and not in_notebook():
        if not os.environ.get("MPLBACKEND"):
            import matplotlib

            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _install_hooks()
    return plt


def save_pyplot_figures() -> list[Path]:
    """Outside Jupyter: save each open pyplot figure that has axes to its own file, announce
    it, and close it. Inside Jupyter the inline backend shows them instead."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None or in_notebook():
        return []
    saved = []
    for number in plt.get_fignums():
        fig = plt.figure(number)
        if fig.axes:
            path = save_figure(fig, next_figure_path())
            print(f"figure: {path}", flush=True)
            saved.append(path)
        plt.close(fig)
    return saved


def use_svg_display() -> None:
    """Inside Jupyter, show pyplot figures as SVG. Elsewhere figures are SVG files already."""
    if in_notebook():
        try:
            from matplotlib_inline import backend_inline
        except ImportError:  # an IPython too old to have it: PNG it is
            return
        backend_inline.set_matplotlib_formats("svg")


def set_figsize(figsize=(3.5, 2.5)) -> None:
    """Set the size of the next pyplot figures. In a script a new drawing begins here, so the
    figures drawn so far are saved first (in Jupyter each cell's figure is already shown)."""
    save_pyplot_figures()
    _apply_figsize(figsize)


def _apply_figsize(figsize) -> None:
    import matplotlib

    use_svg_display()
    matplotlib.rcParams["figure.figsize"] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Label, scale and limit matplotlib axes, with a legend when given, and a grid."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _has_one_axis(X) -> bool:
    # A 1-d tensor or array, or a flat list: one curve rather than a list of curves.
    return (hasattr(X, "ndim") and X.ndim == 1) or (
        isinstance(X, list) and not hasattr(X[0], "__len__")
    )


def plot(X, Y=None, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
         xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"), figsize=(3.5, 2.5),
         axes=None) -> None:  # fmt: skip
    """Plot one or more curves with pyplot: `Y` against `X`, or `X` against its index when `Y`
    is None. Without `axes` it draws a new figure (saved to a file outside Jupyter)."""
    if axes is None:
        set_figsize(figsize)
        axes = pyplot().gca()
    else:
        _apply_figsize(figsize)
    if _has_one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif _has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts, strict=False):
        if len(x):
            axes.plot(x, y, fmt)
        else:
            axes.plot(y, fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend or [])


def show_images(imgs, num_rows: int, num_cols: int, titles=None, scale: float = 1.5, path=None):
    """A grid of images (tensors or PIL images) with optional titles; returns the axes."""
    live = LiveFigure(figsize=(num_cols * scale, num_rows * scale), path=path)
    axes = live.fig.subplots(num_rows, num_cols, squeeze=False).flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs, strict=False)):
        ax.imshow(img.numpy() if hasattr(img, "numpy") else img, cmap="gray")
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i], fontsize=8)
    live.show()
    return axes


class Animator:
    """Plots data incrementally (the book's training curves): redrawn in place inside
    Jupyter; in a script, saved to its file after every point."""

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None,
                 xscale="linear", yscale="linear", fmts=("-", "m--", "g-.", "r:"),
                 nrows=1, ncols=1, figsize=(3.5, 2.5), path=None):  # fmt: skip
        self.live = LiveFigure(figsize=figsize, path=path)
        self.fig, self.path = self.live.fig, self.live.path
        axes = self.fig.subplots(nrows, ncols)
        self.axes = [axes] if nrows * ncols == 1 else list(axes.flat)
        legend = legend or []
        self.config_axes = lambda: set_axes(
            self.axes[0], xlabel, ylabel, xlim, ylim, xscale, yscale, legend
        )
        self.X, self.Y, self.fmts = None, None, fmts

    def add(self, x, y) -> None:
        """Add a point to each curve (x may be one value for all) and redraw."""
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y, strict=False)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        ax = self.axes[0]
        ax.cla()
        for xs, ys, fmt in zip(self.X, self.Y, self.fmts, strict=False):
            ax.plot(xs, ys, fmt)
        self.config_axes()
        self.live.show()


class Throttle:
    """Says whether enough time has passed to redraw: a figure saved as SVG costs tens of ms,
    as much as dozens of training steps, so a live figure is redrawn at most every `seconds`."""

    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds = seconds
        self.last = float("-inf")

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.seconds:
            self.last = now
            return True
        return False
