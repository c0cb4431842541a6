"""Runs side by side on one self-contained HTML page (inline SVG, no scripts, no network):
every run's curves overlaid on shared axes, a table of settings and results sorted by test
accuracy, and the settings that differ between the runs highlighted, as TensorBoard or W&B
compare runs, but in one file.
"""

from __future__ import annotations

import html
import itertools
import os
from collections.abc import Sequence
from pathlib import Path

from ..config import format_setting
from ..errors import ConfigError
from ..fileio import atomic_write_text
from ..records.history import best_val_epoch, has_validation
from ..records.rundir import RunDir
from ..records.summary import (
    TRAINING_SETTINGS,
    RunSummary,
    differing_settings,
    find_runs,
    summarize,
)
from .page import html_page, inline_svg
from .plots import new_figure

PAGE = "compare.html"
LEGEND_COLUMNS = 4
PANELS = (
    ("train_loss", "train loss"),
    ("train_acc", "train acc"),
    ("test_acc", "test acc"),
)
VAL_PANELS = (("val_loss", "val loss"), ("val_acc", "val acc"))
STYLE = """
td.name,th.name{text-align:left;white-space:nowrap}
th.diff{background:#ffe08a} td.diff{background:#fff3c4;font-weight:600}
.swatch{display:inline-block;width:.9rem;height:.9rem;border-radius:2px;margin-right:.4rem;
vertical-align:-.1rem} .same{color:#555;font-size:.85rem}
.failed{color:#c0392b}
"""


def expand_runs(paths: Sequence[str | Path]) -> list[RunDir]:
    """Each path's run: a run folder itself, or the run folders under it (a sweep's, say).
    Every run once, in the order given."""
    runs: list[RunDir] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        if not path.is_dir():
            raise ConfigError(f"{path}: no such folder; pass run folders or a sweep folder")
        found = find_runs(path)  # a run folder is its own one run
        if not found:
            raise ConfigError(
                f"{path}: holds no softmaxreg runs; pass run folders or a folder of runs (a "
                "sweep's)"
            )
        for run in found:
            if run.path.resolve() not in seen:
                seen.add(run.path.resolve())
                runs.append(run)
    return runs


def default_page_path(runs: Sequence[RunDir]) -> Path:
    """compare.html in the folder that holds the runs (a sweep's folder, say)."""
    try:  # as the runs were named (relative stays relative), else as absolute paths
        common = Path(os.path.commonpath([run.path for run in runs]))
    except ValueError:
        common = Path(os.path.commonpath([run.path.resolve() for run in runs]))
    if (common / RunDir.CONFIG).is_file():  # one run: beside it
        common = common.parent
    return common / PAGE


def labels_for(runs: Sequence[RunDir]) -> list[str]:
    """Short names: each run's path below the folder they share."""
    resolved = [run.path.resolve() for run in runs]
    common = Path(os.path.commonpath(resolved))
    if len(runs) == 1 or common in resolved:
        common = common.parent
    return [str(path.relative_to(common)) for path in resolved]


def write_compare(paths: Sequence[str | Path], out: str | Path | None = None) -> Path:
    """Write the comparison page of the runs in `paths`; returns its path."""
    runs = expand_runs(paths)
    page = Path(out) if out else default_page_path(runs)
    if page.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"{{name}}: expected a file name ending in .html, got {page}", "out")
    summaries = [summarize(run) for run in runs]
    return atomic_write_text(page, compare_page(summaries, labels_for(runs)))


def compare_page(summaries: Sequence[RunSummary], labels: Sequence[str]) -> str:
    colors = [c for c, _ in zip(itertools.cycle(_palette()), summaries, strict=False)]
    differ = differing_settings(list(summaries))
    esc = html.escape
    title = f"softmaxreg: {len(summaries)} runs compared"
    parts = [
        f"<h1>{esc(title)}</h1>",
        "<h2>Curves</h2>",
        "<p>Every run on the same axes, one colour per run (the table's swatches)"
        + (
            "; a dot marks each run's epoch of lowest validation loss"
            if any(has_validation(s.history) for s in summaries)
            else ""
        )
        + ".</p>",
        inline_svg(overlay_figure(summaries, labels, colors)),
        "<h2>Settings and results</h2>",
        "<p>Sorted by the test accuracy of each run's model; "
        + (
            f"highlighted: the settings that differ ({esc(', '.join(differ))})."
            if differ
            else "every run has the same settings."
        )
        + "</p>",
        _table(summaries, labels, colors, differ),
        _same_settings(summaries, differ),
    ]
    return html_page(title, STYLE, "\n".join(parts))


def _palette() -> list[str]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return ["#{:02x}{:02x}{:02x}".format(*(int(255 * c) for c in cmap(i)[:3])) for i in range(10)]


def overlay_figure(summaries: Sequence[RunSummary], labels: Sequence[str], colors: Sequence[str]):
    """Every run's curves overlaid: one panel per metric, all on the same epoch axis; the
    legend takes the spare panel, or a band below. (plots.curves_figure is one run's.)"""
    panels = list(PANELS)
    if any(has_validation(s.history) for s in summaries):
        panels += VAL_PANELS
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    spare = rows * cols > len(panels)
    band = 0.0 if spare else 0.17 * -(-len(summaries) // LEGEND_COLUMNS) + 0.1
    height = 2.6 * rows + band
    from matplotlib.ticker import MaxNLocator

    fig = new_figure(figsize=(3.6 * cols, height), dpi=110)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    last_epoch = max((len(s.history) for s in summaries), default=1)
    for ax, (key, title) in zip(axes, panels, strict=False):
        for summary, label, color in zip(summaries, labels, colors, strict=True):
            history = summary.history
            if not history:
                continue
            xs = [r.epoch for r in history]
            ax.plot(xs, [getattr(r, key) for r in history], color=color, linewidth=1.1, label=label)
            best = best_val_epoch(history)
            if best is not None and getattr(history[best - 1], key) is not None:
                ax.plot([best], [getattr(history[best - 1], key)], "o", color=color, markersize=4)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(1, max(last_epoch, 2))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize=8)
        ax.grid(True, alpha=0.4)
        ax.tick_params(labelsize=7)
    for ax in axes[len(panels) :]:
        ax.axis("off")
    handles, names = axes[0].get_legend_handles_labels()
    if handles and spare:
        axes[-1].legend(handles, names, loc="center", fontsize=8, frameon=False)
    elif handles:
        fig.legend(
            handles,
            names,
            loc="lower center",
            ncol=min(LEGEND_COLUMNS, len(handles)),
            fontsize=7,
            frameon=False,
        )
    fig.tight_layout(rect=(0, band / height, 1, 1))
    return fig


def _table(summaries, labels, colors, differ: list[str]) -> str:
    esc = html.escape
    order = sorted(
        range(len(summaries)),
        key=lambda i: (summaries[i].test_acc is None, -(summaries[i].test_acc or 0.0)),
    )
    validation = any(has_validation(s.history) for s in summaries)
    head = ["<table><tr><th>#</th><th class='name'>run</th><th>status</th>"]
    head += [f"<th class='diff'>{esc(name)}</th>" for name in differ]
    head += ["<th>trained</th><th>test acc</th><th>best test acc (epoch)</th>"]
    head += ["<th>val acc</th>"] if validation else []
    head += ["<th>seconds</th></tr>"]
    rows = ["".join(head)]
    for rank, i in enumerate(order, 1):
        s, label, color = summaries[i], labels[i], colors[i]
        best = s.best_test
        kept = s.model_record
        status = esc(s.status)
        if s.reason:
            status = f"<span class='failed' title='{esc(s.reason)}'>{status}</span>"
        cells = [
            f"<td>{rank}</td>",
            f"<td class='name'><span class='swatch' style='background:{color}'></span>"
            f"{esc(label)}</td>",
            f"<td>{status}</td>",
            *(
                f"<td class='diff'>{esc(format_setting(s.settings.get(name)))}</td>"
                for name in differ
            ),
            f"<td>{s.epochs_done}/{s.settings.get('epochs', '?')}"
            + (f" (kept {s.kept_epoch})" if s.kept_epoch else "")
            + "</td>",
            f"<td>{_acc(s.test_acc)}</td>",
            f"<td>{_acc(best.test_acc) if best else '-'}"
            + (f" ({best.epoch})" if best else "")
            + "</td>",
        ]
        if validation:
            cells.append(f"<td>{_acc(kept.val_acc) if kept else '-'}</td>")
        cells.append(f"<td>{s.seconds:.2f}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    failures = [
        f"<li><b>{esc(labels[i])}</b>: {esc(s.reason)}</li>"
        for i, s in enumerate(summaries)
        if s.reason
    ]
    notes = f"<ul class='failed'>{''.join(failures)}</ul>" if failures else ""
    return "".join(rows) + "</table>" + notes


def _same_settings(summaries: Sequence[RunSummary], differ: list[str]) -> str:
    readable = [s for s in summaries if s.settings]
    if not readable:
        return ""
    first = readable[0].settings
    same = [
        f"{html.escape(name)} <code>{html.escape(format_setting(first.get(name)))}</code>"
        for name in TRAINING_SETTINGS
        if name not in differ
    ]
    return f"<p class='same'>Same in every run: {', '.join(same)}.</p>"


def _acc(value) -> str:
    return "-" if value is None else f"{value:.4f}"
