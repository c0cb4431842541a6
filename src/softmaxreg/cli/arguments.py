"""What every command shares: a parser whose errors are one line, the data set flags, and the
training settings' flags, built from `TrainConfig`'s declared parameters."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import NoReturn

from ..config import TrainConfig

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the argument and pointing to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def flag(param: str) -> str:
    """The command line's name of a parameter: batch_size -> --batch-size."""
    return "--" + param.replace("_", "-")


DATA_SETTINGS = ("dataset", "data_dir")


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    _add_settings(group, DATA_SETTINGS)


def add_setting_flags(parser: argparse.ArgumentParser) -> tuple[str, ...]:
    """The training settings as flags (default None: the recipe decides); returns their names.
    Their help shows the book's values; `--recipe tuned` changes some of them."""
    params = {f.name: f.metadata["param"] for f in fields(TrainConfig)}
    what = tuple(n for n, p in params.items() if not p.runtime and n not in DATA_SETTINGS)
    how = tuple(n for n, p in params.items() if p.runtime)
    add_data_flags(parser)
    _add_settings(parser.add_argument_group("settings (the book's unless --recipe says)"), what)
    _add_settings(parser.add_argument_group("how to run"), how)
    return DATA_SETTINGS + what + how


def _add_settings(group, names: tuple[str, ...]) -> None:
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    params = {f.name: f.metadata["param"] for f in fields(TrainConfig)}
    for name in names:
        p, default = params[name], defaults[name]
        recipe_decides = not p.runtime and name not in DATA_SETTINGS + ("recipe",)
        shown = f" ({'book' if recipe_decides else 'default'}: {default})"
        if default is None or p.type is bool:
            shown = ""
        # No `choices=` for argparse: the settings check them, with the same message as the
        # Python API's.
        if p.type is bool:
            group.add_argument(flag(name), action="store_true", default=None, help=p.help + shown)
        else:
            metavar = "{" + ",".join(p.choices) + "}" if p.choices else METAVARS[p.type]
            group.add_argument(flag(name), type=p.type, metavar=metavar, help=p.help + shown)


METAVARS = {int: "N", float: "X", str: "DIR"}
