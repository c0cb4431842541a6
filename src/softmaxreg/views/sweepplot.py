"""A sweep's picture: test accuracy by each setting that varies, and accuracy against time.

One panel per swept setting puts its values side by side (every run is a dot at its value,
the line joins the best run of each value), so the setting that matters shows at a glance;
the last panel draws every run's test accuracy against its training time, the trade-off a
sweep is usually run to find.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import format_setting
from .plots import new_figure, save_all

FAILED_COLOR = "#c0392b"


def sweep_figure(runs: Sequence[tuple[str, Any]], swept: Sequence[str]):
    """`runs`: (name, RunSummary) pairs in the plan's order; `swept`: the varying settings."""
    panels = len(swept) + 1
    fig = new_figure(figsize=(3.3 * panels, 3.0), dpi=120)
    scored = [s.test_acc for _, s in runs if s.test_acc is not None]
    low = min(scored, default=0.0)
    for i, setting in enumerate(swept):
        ax = fig.add_subplot(1, panels, i + 1)
        _by_setting(ax, runs, setting, low)
    _against_time(fig.add_subplot(1, panels, panels), runs)
    fig.suptitle(f"sweep of {len(runs)} runs: test accuracy of each run's model", fontsize=9)
    fig.tight_layout()
    return fig


def _by_setting(ax, runs, setting: str, low: float) -> None:
    values: list[Any] = []
    for _, s in runs:
        if s.settings.get(setting) not in values:
            values.append(s.settings.get(setting))
    best_of: dict[int, float] = {}
    for _, s in runs:
        x = values.index(s.settings.get(setting))
        if s.test_acc is None:
            marker = "x" if s.status == "failed" else "."
            ax.plot([x], [low], marker, color=FAILED_COLOR if s.status == "failed" else "0.6")
            continue
        ax.plot([x], [s.test_acc], "o", color="C0", alpha=0.6, markersize=4)
        best_of[x] = max(best_of.get(x, 0.0), s.test_acc)
    xs = sorted(best_of)
    ax.plot(xs, [best_of[x] for x in xs], "-", color="C0", linewidth=1)
    ax.set_xticks(range(len(values)), [format_setting(v) for v in values], fontsize=8)
    ax.set_xlim(-0.5, len(values) - 0.5)
    ax.set_xlabel(setting)
    ax.set_ylabel("test acc")
    ax.grid(True, alpha=0.4)
    if any(s.status == "failed" for _, s in runs):
        ax.annotate(
            "x: failed", (0.02, 0.02), xycoords="axes fraction", color=FAILED_COLOR, fontsize=7
        )


def _against_time(ax, runs) -> None:
    best = max(
        (pair for pair in runs if pair[1].test_acc is not None),
        key=lambda pair: pair[1].test_acc,
        default=None,
    )
    colors = itertools.cycle(f"C{i}" for i in range(10))
    for (name, s), color in zip(runs, colors, strict=False):
        if not s.history:
            continue
        elapsed = list(itertools.accumulate(r.seconds for r in s.history))
        is_best = best is not None and name == best[0]
        ax.plot(
            elapsed,
            [r.test_acc for r in s.history],
            "-",
            color=color,
            linewidth=1.8 if is_best else 0.8,
            alpha=1.0 if is_best else 0.6,
            label=f"best: {name}" if is_best else None,
        )
    ax.set_xlabel("training seconds")
    ax.set_ylabel("test acc")
    ax.grid(True, alpha=0.4)
    if best is not None:
        ax.legend(loc="lower right", fontsize=7)


def save_sweep_figure(
    runs: Sequence[tuple[str, Any]], swept: Sequence[str], paths: Sequence[str | Path]
) -> list[Path]:
    return save_all(sweep_figure(runs, swept), paths)
