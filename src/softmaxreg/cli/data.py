"""softmaxreg data: where the data set is found and how it verified; --fetch downloads it."""

from __future__ import annotations

import argparse

from .arguments import add_data_flags


def add_parsers(sub) -> None:
    data = sub.add_parser("data", help="show where the data set is found and whether it verified")
    add_data_flags(data)
    data.add_argument("--fetch", action="store_true", help="download the data set if missing")
    data.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    data.set_defaults(func=cmd_data)


def cmd_data(args: argparse.Namespace) -> int:
    from ..data import describe, fetch, get_spec, load_dataset

    name = args.dataset or "fashion-mnist"
    spec = get_spec(name)
    if args.fetch:
        fetch(spec, args.data_dir, progress=not args.quiet)
    dataset = load_dataset(name, args.data_dir, download=False, progress=not args.quiet)
    if not args.quiet:
        print("\n".join(describe(dataset)))
    return 0
