"""One self-contained HTML page per run: everything inline (SVG and base64 PNG), no network."""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..errors import ConfigError
from ..fileio import atomic_write_text
from ..inference.classifier import Classifier
from ..inference.evaluation import evaluate_run
from ..records.history import EpochRecord, best_val_epoch, has_validation
from ..records.rundir import RunDir
from .page import figure_data_url, html_page, inline_svg, png_data_url
from .plots import (
    confusion_figure,
    curves_figure,
    predictions_figure,
    save_all,
    save_figure,
    weights_figure,
)

STYLE = """
td:first-child,th:first-child{text-align:left}
.row{display:flex;flex-wrap:wrap;gap:2rem;align-items:flex-start}
.mistakes{display:flex;flex-wrap:wrap;gap:.8rem} .mistakes figure{margin:0;width:120px;
font-size:.75rem;text-align:center} .mistakes img{width:84px;image-rendering:pixelated}
tr.best td{background:#fff3c4;font-weight:600}
"""


def write_report(run_dir: str | Path, split: str = "test") -> Path:
    """Evaluate the run and write `run_dir/report.html`; returns its path. A path that is not
    a run folder, or a run without a model yet, is a one-line error."""
    if Path(run_dir).is_file():
        raise ConfigError(f"{run_dir}: not a run folder; pass a folder made by `softmaxreg train`")
    run = RunDir.existing(run_dir)
    run_dir = run.path
    config = run.record()
    history = run.history()  # a damaged metrics file fails here, before the evaluation
    clf, data, ev = evaluate_run(run_dir, split)
    images, labels = data.split(split)
    templates = figure_data_url(weights_figure(clf.weight, ev.classes, clf.image_shape))
    first = images[:18]
    grid = figure_data_url(predictions_figure(first, labels[:18], clf.predict(first), ev.classes))
    esc = html.escape
    curves_file = run.file(RunDir.CURVES[0])
    if curves_file.is_file():
        curves = curves_file.read_text()
        curves = curves[curves.index("<svg") :]
    else:  # an unfinished run: its curves so far
        curves = inline_svg(curves_figure(history, run.config().epochs))
    parts = [
        f"<h1>softmaxreg run <code>{esc(str(run_dir))}</code></h1>",
        f"<p>{esc(data.name)}, {split} accuracy <b>{ev.accuracy:.4f}</b> after "
        f"{len(history)} epochs ({esc(run.state)} run)"
        + (f"; final train loss {history[-1].train_loss:.4f}" if history else "")
        + ".</p>",
        "<h2>Training curves</h2>",
        _best_epoch_note(run, history, clf),
        "<div class='row'>",
        curves,
        _epoch_table(history),
        "</div>",
        "<h2>Per-class scores</h2><table><tr><th>class</th><th>precision</th><th>recall</th>"
        "<th>F1</th><th>support</th></tr>",
        *[
            f"<tr><td>{esc(c)}</td><td>{ev.scores['precision'][i]:.4f}</td>"
            f"<td>{ev.scores['recall'][i]:.4f}</td><td>{ev.scores['f1'][i]:.4f}</td>"
            f"<td>{int(ev.scores['support'][i])}</td></tr>"
            for i, c in enumerate(ev.classes)
        ],
        "</table>",
        "<h2>Confusion matrix</h2>",
        inline_svg(confusion_figure(ev.confusion, ev.classes)),
        "<h2>Learned weight templates</h2><p>Each class's row of W as an image: red pixels "
        "raise the class's score, blue ones lower it.</p>",
        f"<img alt='weight templates' src='{templates}'>",
        "<h2>Predictions on the first test images</h2><p>true label above, prediction below "
        "(red when wrong)</p>",
        f"<img alt='prediction grid' src='{grid}'>",
        "<h2>Most confident mistakes</h2><div class='mistakes'>",
        *[
            f"<figure><img alt='test image {m['index']}' "
            f"src='{png_data_url(images[m['index']])}'>"
            f"<figcaption>#{m['index']}<br>true {esc(m['true'])}<br>predicted "
            f"{esc(m['predicted'])} ({m['probability']:.2f})</figcaption></figure>"
            for m in ev.mistakes[:16]
        ],
        "</div><h2>Configuration</h2><pre>",
        esc(json.dumps(config, indent=2)),
        "</pre>",
    ]
    page = html_page(f"softmaxreg report: {run_dir.name}", STYLE, "\n".join(parts))
    return atomic_write_text(run.file(RunDir.REPORT), page)


def _epoch_table(history: list[EpochRecord]) -> str:
    """Every epoch's metrics; with a validation split its columns too, and the best epoch's
    row marked."""
    val = has_validation(history)
    best = best_val_epoch(history)
    head = ["epoch", "train loss", "train acc", "test acc"]
    head += ["val loss", "val acc"] if val else []
    rows = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in [*head, "seconds"]) + "</tr>"]
    for r in history:
        cells = [str(r.epoch), *(f"{x:.4f}" for x in (r.train_loss, r.train_acc, r.test_acc))]
        if val:
            cells += [f"{x:.4f}" if x is not None else "" for x in (r.val_loss, r.val_acc)]
        cells.append(f"{r.seconds:.2f}")
        mark = " class='best' title='lowest validation loss'" if r.epoch == best else ""
        rows.append(f"<tr{mark}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "".join(rows) + "</table>"


def _best_epoch_note(run: RunDir, history: list[EpochRecord], clf: Classifier) -> str:
    best = best_val_epoch(history)
    if best is None:
        return ""
    held = run.record().get("validation") or {}
    examples, fraction = (html.escape(str(held.get(k, "?"))) for k in ("examples", "fraction"))
    note = (
        f"<p>Validation split: {examples} training examples held out (fraction {fraction}). "
        f"Lowest validation loss at <b>epoch {best}</b> (marked in the figure and the table)"
    )
    config = run.config()
    if config.early_stop:
        note += f"; early stopping (patience {config.early_stop}) " + _early_stop_outcome(
            clf, len(history), config.epochs
        )
    return note + ".</p>"


def _early_stop_outcome(clf: Classifier, done: int, epochs: int) -> str:
    """What early stopping did, from the model the report evaluates: a finished run's model
    records the epoch it kept (kept_epoch); a run without one has not finished (stopped by
    Ctrl-C, say, or still training), whatever the number of its epochs suggests."""
    kept = clf.meta.get("kept_epoch") if clf.meta.get("kind") == "model" else None
    if kept is None:
        return (
            f"has not ended this run: it is unfinished after {done} of {epochs} epochs, and "
            f"this report evaluates its last checkpoint (epoch {done}'s weights)"
        )
    what = f"stopped the run after epoch {done}" if done < epochs else "did not stop the run"
    return f"{what}, and model.safetensors holds epoch {kept}'s weights"


def write_evaluation_pictures(run: RunDir, clf, data, ev, split: str) -> list[Path]:
    """The evaluation's pictures beside the run's other results: the confusion matrix, the
    weight templates and the book's prediction grid."""
    paths = save_all(confusion_figure(ev.confusion, clf.classes), run.files_named(RunDir.CONFUSION))
    templates = weights_figure(clf.weight, clf.classes, clf.image_shape)
    paths.append(save_figure(templates, run.file(RunDir.WEIGHTS)))
    images, labels = data.split(split)
    grid = predictions_figure(images[:18], labels[:18], clf.predict(images[:18]), clf.classes)
    paths.append(save_figure(grid, run.file(RunDir.PREDICTIONS)))
    return paths
