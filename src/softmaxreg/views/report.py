"""One self-contained HTML page per run: everything inline (SVG and base64 PNG), no network."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from ..fileio import atomic_write_text
from ..inference.evaluation import evaluate_run
from ..records.history import EpochRecord, best_val_epoch, has_validation
from ..records.rundir import RunDir
from .plots import (
    confusion_figure,
    curves_figure,
    predictions_figure,
    save_all,
    save_figure,
    weights_figure,
)

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.6rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9rem} td,th{padding:.25rem .6rem;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.row{display:flex;flex-wrap:wrap;gap:2rem;align-items:flex-start} img,svg{max-width:100%}
.mistakes{display:flex;flex-wrap:wrap;gap:.8rem} .mistakes figure{margin:0;width:120px;
font-size:.75rem;text-align:center} .mistakes img{width:84px;image-rendering:pixelated}
code{background:#f6f6f6;padding:0 .2rem} tr.best td{background:#fff3c4;font-weight:600}
"""


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _png(fig=None, array=None) -> str:
    buf = io.BytesIO()
    if fig is not None:
        fig.savefig(buf, format="png")
    else:
        from PIL import Image

        Image.fromarray(array).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def write_report(run_dir: str | Path, split: str = "test") -> Path:
    """Evaluate the run and write `run_dir/report.html`; returns its path."""
    run = RunDir.existing(run_dir)
    run_dir = run.path
    clf, data, ev = evaluate_run(run_dir, split)
    config = run.record()
    history = run.history()
    images, labels = data.split(split)
    templates = _png(weights_figure(clf.weight, ev.classes, clf.image_shape))
    first = images[:18]
    grid = _png(predictions_figure(first, labels[:18], clf.predict(first), ev.classes))
    esc = html.escape
    curves_file = run.file(RunDir.CURVES[0])
    if curves_file.is_file():
        curves = curves_file.read_text()
    else:  # an unfinished run: its curves so far
        curves = _svg(curves_figure(history, run.config().epochs))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>softmaxreg report: {esc(run_dir.name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>softmaxreg run <code>{esc(str(run_dir))}</code></h1>",
        f"<p>{esc(data.name)}, {split} accuracy <b>{ev.accuracy:.4f}</b> after "
        f"{len(history)} epochs ({esc(run.state)} run)"
        + (f"; final train loss {history[-1].train_loss:.4f}" if history else "")
        + ".</p>",
        "<h2>Training curves</h2>",
        _best_epoch_note(run, history),
        "<div class='row'>",
        curves[curves.index("<svg") :],
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
        _svg(confusion_figure(ev.confusion, ev.classes)),
        "<h2>Learned weight templates</h2><p>Each class's row of W as an image: red pixels "
        "raise the class's score, blue ones lower it.</p>",
        f"<img alt='weight templates' src='{templates}'>",
        "<h2>Predictions on the first test images</h2><p>true label above, prediction below "
        "(red when wrong)</p>",
        f"<img alt='prediction grid' src='{grid}'>",
        "<h2>Most confident mistakes</h2><div class='mistakes'>",
        *[
            f"<figure><img alt='test image {m['index']}' src='{_png(array=images[m['index']])}'>"
            f"<figcaption>#{m['index']}<br>true {esc(m['true'])}<br>predicted "
            f"{esc(m['predicted'])} ({m['probability']:.2f})</figcaption></figure>"
            for m in ev.mistakes[:16]
        ],
        "</div><h2>Configuration</h2><pre>",
        esc(json.dumps(config, indent=2)),
        "</pre>",
        "</body></html>",
    ]
    return atomic_write_text(run.file(RunDir.REPORT), "\n".join(parts))


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


def _best_epoch_note(run: RunDir, history: list[EpochRecord]) -> str:
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
        done = len(history)
        what = f"stopped after epoch {done}" if done < config.epochs else "did not stop the run"
        note += (
            f"; early stopping (patience {config.early_stop}) {what}, and model.safetensors "
            f"holds epoch {best}'s weights"
        )
    return note + ".</p>"


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
