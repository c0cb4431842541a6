"""The command line: parse arguments, call the library, turn its errors into one-line messages.

Nothing here imports torch at module level, so `softmaxreg --help` and `softmaxreg data` start
fast; each command imports what it needs.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import NoReturn

from . import __version__
from .errors import Interrupted, SoftmaxRegError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_CLOSED_PIPE = 128 + 13  # what a shell reports for a tool ended by SIGPIPE


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the argument and pointing to --help."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def build_parser() -> Parser:
    parser = Parser(
        prog="softmaxreg",
        description="Train, inspect and serve softmax-regression image classifiers "
        "(Dive into Deep Learning, chapter 3.7) offline and fast.",
    )
    parser.add_argument("--version", action="version", version=f"softmaxreg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    train = sub.add_parser("train", help="train a model; writes a run folder")
    _add_data_args(train)
    s = train.add_argument_group("settings (default: the seed chapter's; --recipe sets others)")
    s.add_argument("--recipe", default="seed", help="seed (the book's) or tuned (default: seed)")
    s.add_argument("--epochs", type=int, help="passes over the training set (seed: 10)")
    s.add_argument("--batch-size", type=int, help="examples per SGD step (seed: 256)")
    s.add_argument("--lr", type=float, help="learning rate (seed: 0.1)")
    s.add_argument("--init-std", type=float, help="std of the initial weights (seed: 0.01)")
    s.add_argument("--seed", type=int, help="seed for initialisation and shuffling (default: 0)")
    s.add_argument("--momentum", type=float, help="SGD momentum (seed: 0)")
    s.add_argument("--nesterov", action="store_true", default=None, help="Nesterov momentum")
    s.add_argument("--weight-decay", type=float, help="L2 penalty (seed: 0)")
    s.add_argument("--schedule", help="learning-rate schedule: constant or cosine")
    r = train.add_argument_group("how and where")
    r.add_argument("--engine", help="auto (fused where it applies), fused or autograd")
    r.add_argument("--device", help="auto (CUDA when present), cpu or cuda")
    r.add_argument("--threads", type=int,
                   help="CPU threads for torch (default: torch's); the compiled step uses one")
    r.add_argument("--out", help="run folder to write (default: runs/<dataset>-<time>)")
    r.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    r.add_argument("--resume", metavar="RUN", help="continue RUN from its last checkpoint")
    r.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(func=cmd_train)

    data = sub.add_parser("data", help="show where the data set is found and whether it verified")
    _add_data_args(data)
    data.add_argument("--fetch", action="store_true", help="download the data set if missing")
    data.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    data.set_defaults(func=cmd_data)

    ev = sub.add_parser("evaluate", help="accuracy, per-class scores, confusion matrix")
    ev.add_argument("run", metavar="RUN", help="a run folder or a model .safetensors file")
    ev.add_argument("--split", default="test", choices=("train", "test"))
    ev.add_argument("--json", action="store_true", help="print JSON instead of tables")
    _add_data_args(ev)
    ev.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="classify your own images (or IDX files)")
    pr.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders, IDX files")
    pr.add_argument("--model", required=True, help="a run folder or a model .safetensors file")
    pr.add_argument("--top-k", type=int, default=3, help="classes to show per image (3)")
    pr.add_argument("--invert", default="auto", choices=("auto", "yes", "no"),
                    help="make the background dark: auto decides from the border pixels")
    pr.add_argument("--batch-size", type=int, default=512, help="images per batch (512)")
    pr.add_argument("--json", action="store_true", help="one JSON object per line")
    pr.set_defaults(func=cmd_predict)

    rep = sub.add_parser("report", help="write RUN/report.html: one self-contained page")
    rep.add_argument("run", metavar="RUN", help="a run folder written by `softmaxreg train`")
    rep.add_argument("--split", default="test", choices=("train", "test"))
    rep.set_defaults(func=cmd_report)
    return parser


def _add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help="fashion-mnist (default), mnist, or idx (your own files)")
    g.add_argument("--data-dir", help="folder holding the four IDX files (or $SOFTMAXREG_DATA)")


TRAIN_SETTINGS = ("epochs", "batch_size", "lr", "init_std", "seed", "momentum", "nesterov",
                  "weight_decay", "schedule", "engine", "dataset", "data_dir")  # fmt: skip


def cmd_train(args: argparse.Namespace) -> int:
    from .config import TrainConfig, read_run_config
    from .plots import CurvesWorker

    config = None
    if args.resume and args.overwrite:
        raise SoftmaxRegError(
            f"--resume continues {args.resume} and --overwrite would start a run afresh: "
            "drop one of them"
        )
    if args.resume:
        given = [f"--{k.replace('_', '-')}" for k in TRAIN_SETTINGS if getattr(args, k) is not None]
        if given or args.out or args.recipe != "seed":
            flags = ", ".join(given + (["--out"] if args.out else []))
            raise SoftmaxRegError(
                f"--resume takes every setting from {args.resume}/config.json; drop "
                f"{flags or '--recipe'}"
            )
        epochs = read_run_config(Path(args.resume)).epochs
    else:
        settings = {k: getattr(args, k) for k in TRAIN_SETTINGS}
        settings.update(threads=args.threads, device=args.device)
        config = TrainConfig.from_recipe(args.recipe, **settings)
        epochs = config.epochs
    # Started before torch is imported, so that matplotlib loads on the other core meanwhile.
    plotter = CurvesWorker(epochs)
    try:
        return _train(args, config, epochs, plotter)
    finally:
        plotter.close()


def _train(args: argparse.Namespace, config, epochs: int, plotter) -> int:
    from .progress import EpochPrinter
    from .runner import resume_run, train_run

    callbacks = [] if args.quiet else [EpochPrinter(epochs)]
    try:
        if args.resume:
            result = resume_run(args.resume, callbacks=callbacks, threads=args.threads,
                                device=args.device, plotter=plotter)  # fmt: skip
        else:
            result = train_run(config, args.out, overwrite=args.overwrite, callbacks=callbacks,
                               plotter=plotter)  # fmt: skip
    except Interrupted as stop:
        run = args.resume or args.out or "the run folder"
        raise Interrupted(
            f"{stop}; checkpoint saved; resume with: softmaxreg train --resume {run}"
        ) from None
    if not args.quiet:
        final = result.history[-1]
        print(
            f"done in {result.seconds:.2f} s: test acc {final.test_acc:.4f}; "
            f"run folder {result.path} (curves: {result.path / 'curves.svg'})"
        )
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from .data import describe, fetch, get_spec, load_dataset

    name = args.dataset or "fashion-mnist"
    spec = get_spec(name)
    if args.fetch:
        fetch(spec, args.data_dir, progress=not args.quiet)
    dataset = load_dataset(name, args.data_dir, download=False, progress=not args.quiet)
    if not args.quiet:
        print("\n".join(describe(dataset)))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .evaluation import evaluate_run
    from .plots import confusion_figure, predictions_figure, save_both, save_figure, weights_figure

    clf, data, ev = evaluate_run(args.run, args.split, args.data_dir, args.dataset)
    print(json.dumps(ev.as_dict(), indent=2) if args.json else ev.table())
    folder = Path(args.run) if Path(args.run).is_dir() else None
    if folder is not None:  # pictures beside the run's other results
        save_both(confusion_figure(ev.confusion, clf.classes), folder, "confusion")
        weight = clf.model[1].weight.detach().cpu().numpy()
        save_figure(weights_figure(weight, clf.classes, clf.image_shape), folder / "weights.png")
        images, labels = data.split(args.split)
        pred = clf.predict(images[:18])
        grid = predictions_figure(images[:18], labels[:18], pred, clf.classes)
        save_figure(grid, folder / "predictions.png")
        if not args.json:
            print(f"\npictures: {folder}/confusion.svg, weights.png, predictions.png")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import json

    from .classifier import Classifier
    from .config import positive_int
    from .predict import format_record, predict_paths

    positive_int("--top-k", args.top_k)
    positive_int("--batch-size", args.batch_size)
    clf = Classifier.load(args.model)
    records = predict_paths(clf, args.paths, top_k=args.top_k, invert=args.invert,
                            batch_size=args.batch_size, progress=sys.stderr.isatty())  # fmt: skip
    for record in records:
        print(json.dumps(record) if args.json else format_record(record), flush=False)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .checkpoint import resolve_model_path
    from .report import write_report

    if not Path(args.run).is_dir():
        raise SoftmaxRegError(f"{args.run}: not a run folder; pass a folder from softmaxreg train")
    resolve_model_path(args.run)  # a clear error for a folder that is not a finished run
    print(write_report(args.run, args.split))
    return 0


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"softmaxreg: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    warnings.showwarning = _one_line_warnings
    try:
        return args.func(args)
    except Interrupted as exc:
        print(f"softmaxreg: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SoftmaxRegError as exc:
        print(f"softmaxreg: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("softmaxreg: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as exc:
        # Disk full, permission denied and the like: name the file, no traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"softmaxreg: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE


def _closed_pipe() -> int:
    """The reader of our output has gone (`softmaxreg evaluate RUN | head -3`): stop quietly,
    as a Unix tool ended by SIGPIPE does. What is still buffered for stdout can never be
    delivered; pointing stdout at /dev/null lets the final flush succeed silently."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_CLOSED_PIPE


def run() -> NoReturn:
    """The `softmaxreg` command: `main()`, then a quick exit."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Exit with `code`, skipping the interpreter's teardown once torch is loaded.

    Tearing down a process that imported torch (its modules, then its C++ static objects)
    takes about 0.4 s here, a sixth of a whole training run. By now every file the command
    wrote is closed, fsynced and renamed into place and every child process has been waited
    for, so only the standard streams need flushing first."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        code = _closed_pipe()
    except (OSError, ValueError):
        code = code or 1
    try:
        sys.stderr.flush()
    except (OSError, ValueError):  # nothing more can be said anyway
        code = code or 1
    if "torch" not in sys.modules:
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    run()
