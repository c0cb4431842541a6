"""softmaxreg book: run a script or notebook of the book as published."""

from __future__ import annotations

import argparse


def add_parsers(sub) -> None:
    book = sub.add_parser("book", help="run a script or notebook of the book as published")
    book.add_argument("file", metavar="FILE", help="a .py script or .ipynb notebook of the book")
    book.add_argument(
        "--edition",
        choices=("0.17", "1.0"),
        help="the book's edition to serve: 0.17 (the seed's, train_ch3) or 1.0 (Trainer, "
        "Module); default: the one whose names the code uses",
    )
    book.add_argument(
        "--out", help="folder for figures and the run notebook (default: <FILE's name>-out/)"
    )
    book.set_defaults(func=cmd_book)


def cmd_book(args: argparse.Namespace) -> int:
    from ..book import run_book

    return run_book(args.file, edition=args.edition, out=args.out)
