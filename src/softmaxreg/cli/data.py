"""softmaxreg data: where the data set is found and how it verified; --fetch downloads it."""

from __future__ import annotations

import argparse
import sys

from .arguments import Parser, add_data_flags


def add_parsers(sub) -> None:
    data = sub.add_parser("data", help="show where the data set is found and whether it verified")
    add_data_flags(data)
    data.add_argument("--fetch", action="store_true", help="download the data set if missing")
    data.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    data.set_defaults(func=cmd_data)
    _add_import_parser(data)


def _add_import_parser(data: argparse.ArgumentParser) -> None:
    """`softmaxreg data import ...`; plain `softmaxreg data [--fetch]` stays as it was."""
    sub = data.add_subparsers(dest="data_command", metavar="{import}", parser_class=Parser)
    imp = sub.add_parser(
        "import",
        help="write an IDX data set from class folders of pictures, a CSV or a NumPy .npz",
        description="Write DIR as an IDX data set that `softmaxreg train --dataset idx "
        "--data-dir DIR` trains on. SRC is a folder with one subfolder of pictures per class, "
        "a CSV file (label,pixel1,...) or a .npz (x_train/y_train/x_test/y_test, or x/y).",
    )
    imp.add_argument("--train", required=True, metavar="SRC", help="the training examples")
    imp.add_argument("--test", required=True, metavar="SRC", help="the test examples")
    imp.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    imp.add_argument(
        "--classes",
        metavar="FILE",
        help="class names, one per line; labels may be these names or their "
        "indices (default: integer labels are ids, other labels are names, sorted)",
    )
    imp.add_argument(
        "--size",
        nargs=2,
        type=int,
        metavar=("H", "W"),
        help="image size (default: 28 28 for pictures, the data's for CSV/.npz)",
    )
    imp.add_argument(
        "--invert",
        default="auto",
        choices=("auto", "yes", "no"),
        help="pictures: make the background dark, as predict does (auto)",
    )
    imp.add_argument("--overwrite", action="store_true", help="replace a data set in DIR")
    imp.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    imp.set_defaults(func=cmd_data_import)


def cmd_data(args: argparse.Namespace) -> int:
    from ..data import describe, fetch, get_spec, load_dataset
    from ..data.sources import locate

    name = args.dataset or "fashion-mnist"
    spec = get_spec(name)
    # --fetch downloads what is missing: into --data-dir when given, else into the cache
    # unless the data set is already found (in the cache or the system's copy).
    if args.fetch and (args.data_dir or locate(spec) is None):
        fetch(spec, args.data_dir, progress=not args.quiet)
    dataset = load_dataset(name, args.data_dir, download=False, progress=not args.quiet)
    if not args.quiet:
        print("\n".join(describe(dataset)))
    return 0


def cmd_data_import(args: argparse.Namespace) -> int:
    from ..data.importing import import_dataset
    from ..errors import ConfigError

    try:
        summary = import_dataset(
            args.train,
            args.test,
            args.out,
            classes_file=args.classes,
            size=tuple(args.size) if args.size else None,
            invert=args.invert,
            overwrite=args.overwrite,
            progress=not args.quiet and sys.stderr.isatty(),
        )
    except ConfigError as exc:
        if exc.param != "classes_file":
            raise
        # The library's `classes_file` is this command's --classes.
        raise exc.prefixed("", "classes") from None
    if not args.quiet:
        print("\n".join(summary.lines()))
    return 0
