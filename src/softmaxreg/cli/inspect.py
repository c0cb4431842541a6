"""Looking at a trained model: evaluate, predict, report. None of them imports torch."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError
from .arguments import add_data_flags


def add_parsers(sub) -> None:
    ev = sub.add_parser("evaluate", help="accuracy, per-class scores, confusion matrix")
    ev.add_argument("run", metavar="RUN", help="a run folder or a model .safetensors file")
    ev.add_argument("--split", default="test", choices=("train", "test"))
    ev.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_data_flags(ev)
    ev.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="classify your own images (or IDX files)")
    pr.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders, IDX files")
    pr.add_argument("--model", required=True, help="a run folder or a model .safetensors file")
    pr.add_argument("--top-k", type=int, default=3, help="classes to show per image (3)")
    pr.add_argument(
        "--invert",
        default="auto",
        choices=("auto", "yes", "no"),
        help="auto: the object's contrast with the border's colour, bright on dark; "
        "yes/no: the gray negated or as it is",
    )
    pr.add_argument(
        "--no-crop",
        dest="crop",
        action="store_false",
        help="fit the whole picture instead of trimming it to the object",
    )
    pr.add_argument(
        "--show",
        metavar="FILE.png",
        help="write a sheet of each picture beside the 28x28 input the model saw",
    )
    pr.add_argument("--batch-size", type=int, default=512, help="images per batch (512)")
    pr.add_argument("--json", action="store_true", help="one JSON object per line")
    pr.set_defaults(func=cmd_predict)

    rep = sub.add_parser("report", help="write RUN/report.html: one self-contained page")
    rep.add_argument("run", metavar="RUN", help="a run folder written by `softmaxreg train`")
    rep.add_argument("--split", default="test", choices=("train", "test"))
    rep.set_defaults(func=cmd_report)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..inference.evaluation import evaluate_run
    from ..views.report import write_evaluation_pictures

    clf, data, ev = evaluate_run(args.run, args.split, args.data_dir, args.dataset)
    print(json.dumps(ev.as_dict(), indent=2) if args.json else ev.table(), flush=True)
    if clf.run is not None:  # pictures beside the run's other results
        paths = write_evaluation_pictures(clf.run, clf, data, ev, args.split)
        if not args.json:
            print("\npictures: " + ", ".join(str(p) for p in paths))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from ..inference import Classifier
    from ..inference.predict import format_record, predict_paths
    from ..views.sheet import InputSheet, check_sheet_path

    sheet_path = check_sheet_path(args.show) if args.show else None
    sheet = InputSheet() if sheet_path else None
    clf = Classifier.load(args.model)
    records = predict_paths(
        clf,
        args.paths,
        top_k=args.top_k,
        invert=args.invert,
        crop=args.crop,
        batch_size=args.batch_size,
        progress=sys.stderr.isatty(),
        sheet=sheet,
    )
    for record in records:
        print(json.dumps(record) if args.json else format_record(record))
    if sheet is not None and sheet_path is not None:
        _write_sheet(sheet, sheet_path)
    return 0


def _write_sheet(sheet, path: Path) -> None:
    if not sheet.rows:
        print("softmaxreg: --show: no pictures to show (IDX files are not drawn)", file=sys.stderr)
        return
    sys.stdout.flush()  # the predictions first, then where their sheet went
    try:
        sheet.save(path)
    except ConfigError as exc:  # the sheet's `path` is this command's --show
        raise exc.prefixed("", "show") from None
    shown = f"{path}"
    if sheet.left_out:
        shown += f" (the first {len(sheet.rows)} pictures; {sheet.left_out} more not drawn)"
    print(f"softmaxreg: sheet of what the model saw: {shown}", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> int:
    from ..views.report import write_report

    print(write_report(args.run, args.split))
    return 0
