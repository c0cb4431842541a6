"""The current edition's live figure (d2l 1.0, section 3.2): `ProgressBoard`, the curves that
`Module.plot` feeds while `Trainer.fit` runs."""

from __future__ import annotations

import collections

from .figures import LiveFigure, Throttle, keep_pending
from .utilities import HyperParameters

Point = collections.namedtuple("Point", ["x", "y"])


class ProgressBoard(HyperParameters):
    """Plots labelled curves point by point. Every `every_n` raw points of a curve are averaged
    into one drawn point. Inside Jupyter the drawing is updated in place; in a script it is
    saved to a file (path printed once). Redraws are throttled (one a second at most) and the
    last one is made when training ends, the cell ends, or the script exits."""

    # The book's defaults, lists included (they are read, never changed).
    def __init__(self, xlabel=None, ylabel=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", ls=["-", "--", "-.", ":"], colors=["C0", "C1", "C2", "C3"],  # noqa: B006
                 fig=None, axes=None, figsize=(3.5, 2.5), display=True):  # fmt: skip
        self.save_hyperparameters()
        self._live: LiveFigure | None = None
        self._throttle = Throttle(1.0)
        self._dirty = False

    def draw(self, x, y, label: str, every_n: int = 1) -> None:
        """Add the point (x, y) to the curve `label`."""
        if not hasattr(self, "raw_points"):
            self.raw_points = collections.OrderedDict()
            self.data = collections.OrderedDict()
        if label not in self.raw_points:
            self.raw_points[label] = []
            self.data[label] = []
        points = self.raw_points[label]
        points.append(Point(x, y))
        if len(points) != every_n:
            return
        mean = lambda values: sum(values) / len(values)  # noqa: E731
        self.data[label].append(Point(mean([p.x for p in points]), mean([p.y for p in points])))
        points.clear()
        if not self.display:
            return
        self._dirty = True
        keep_pending(self)
        if self._throttle.ready():
            self.flush()

    def flush(self) -> None:
        """Draw the curves now if anything changed since the last drawing."""
        if not self._dirty:
            return
        self._dirty = False
        if self._live is None:
            fig = self.fig if self.fig is not None else getattr(self.axes, "figure", None)
            self._live = LiveFigure(figsize=self.figsize, fig=fig)
        axes = self.axes if self.axes else self._live.fig.gca()
        axes.cla()
        lines, labels = [], []
        for (label, line), ls, color in zip(self.data.items(), self.ls, self.colors,
                                            strict=False):  # fmt: skip
            xs, ys = [p.x for p in line], [float(p.y) for p in line]
            lines.append(axes.plot(xs, ys, linestyle=ls, color=color)[0])
            labels.append(label)
        if self.xlim:
            axes.set_xlim(self.xlim)
        if self.ylim:
            axes.set_ylim(self.ylim)
        axes.set_xlabel(self.xlabel)
        axes.set_ylabel(self.ylabel)
        axes.set_xscale(self.xscale)
        axes.set_yscale(self.yscale)
        axes.legend(lines, labels)
        self._live.show()
