"""softmaxreg train: a new run folder, or --resume one."""

from __future__ import annotations

import argparse
import warnings

from ..errors import ConfigError
from .arguments import add_setting_flags, flag


def add_parsers(sub) -> None:
    train = sub.add_parser("train", help="train a model; writes a run folder")
    settings = add_setting_flags(train)
    out = train.add_argument_group("the run folder")
    out.add_argument("--out", help="run folder to write (default: runs/<dataset>-<time>)")
    out.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    out.add_argument("--resume", metavar="RUN", help="continue RUN from its last checkpoint")
    out.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    train.set_defaults(func=cmd_train, settings=settings)


def cmd_train(args: argparse.Namespace) -> int:
    from ..config import PARAMS, TrainConfig
    from ..records import RunDir
    from ..training.launch import Launch
    from ..views.plots import CurvesWorker, save_curves

    # Under torchrun, rank 0 prints the progress and draws the figure; each machine's first
    # process prints the errors every process meets alike (training/launch.py).
    launch = Launch.from_environ()
    if not launch.writes:
        args.quiet = True
    if not launch.speaks:
        args.reports_error = _own_errors_only
        warnings.simplefilter("ignore")

    given = {k: getattr(args, k) for k in args.settings if getattr(args, k) is not None}
    if args.resume:
        if args.overwrite:
            raise ConfigError(
                f"--resume continues {args.resume} and --overwrite would start a run afresh: "
                "drop one of them"
            )
        fixed = [flag(k) for k in given if not PARAMS[k].runtime] + (["--out"] if args.out else [])
        if fixed:
            raise ConfigError(
                f"--resume takes every setting from {args.resume}/config.json; drop "
                f"{', '.join(fixed)}"
            )
        config = None
        # Only rank 0 needs the run folder (on another machine it may not exist).
        epochs = RunDir.existing(args.resume).config().epochs if launch.writes else 0
    else:
        config = TrainConfig(**given)
        epochs = config.epochs
    if not launch.writes:
        return _run_training(args, config, epochs, save_curves)
    # Started before torch is imported, so that matplotlib loads on the other core meanwhile.
    plotter = CurvesWorker(epochs)
    try:
        return _run_training(args, config, epochs, plotter)
    finally:
        plotter.close()


def _own_errors_only(exc: BaseException) -> bool:
    """For a process that is not its machine's first: errors every process meets alike are
    printed by that one; a process's own (a lost peer) by itself."""
    return bool(getattr(exc, "each_process_reports", False))


def _run_training(args: argparse.Namespace, config, epochs: int, plotter) -> int:
    from ..config import RUNTIME
    from ..training.runner import resume_run, train_run
    from ..views.progress import EpochPrinter, format_kept

    callbacks = [] if args.quiet else [EpochPrinter(epochs)]
    if args.resume:
        # Every runtime setting given (engine, device, threads) applies to the resumed run.
        runtime = {name: getattr(args, name) for name in RUNTIME}
        result = resume_run(args.resume, callbacks=callbacks, plotter=plotter, **runtime)
    else:
        result = train_run(
            config, args.out, overwrite=args.overwrite, callbacks=callbacks, plotter=plotter
        )
    if not args.quiet:
        final = result.history[-1]
        if result.kept_epoch is not None:  # the model holds the best epoch: say its accuracy
            final = result.history[result.kept_epoch - 1]
            print(format_kept(result))
        print(
            f"done in {result.seconds:.2f} s: test acc {final.test_acc:.4f}; "
            f"run folder {result.path} (curves: {result.run.file(result.run.CURVES[0])})"
        )
    return 0
