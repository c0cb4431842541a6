"""What every command shares: a parser whose errors are one line, the data set flags, and the
training settings' flags, built from `TrainConfig`'s declared parameters."""

from __future__ import annotations

import argparse
from typing import NoReturn

from ..config import DEFAULTS, PARAMS, RUNTIME
from ..errors import ConfigError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # as a shell reports a process stopped by SIGINT


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
    what = tuple(n for n, p in PARAMS.items() if not p.runtime and n not in DATA_SETTINGS)
    how = RUNTIME
    add_data_flags(parser)
    _add_settings(parser.add_argument_group("settings (the book's unless --recipe says)"), what)
    _add_settings(parser.add_argument_group("how to run"), how)
    return DATA_SETTINGS + what + how


def _add_settings(group, names: tuple[str, ...]) -> None:
    for name in names:
        p, default = PARAMS[name], DEFAULTS[name]
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


def add_sweep_flags(parser: argparse.ArgumentParser) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The training settings as flags for a sweep: each one that says what to train takes a
    comma list of values (--lr 0.03,0.1,0.3; `none` for an optional one), those that say how
    to run take one value. Returns (list settings, single settings)."""
    single = RUNTIME + ("data_dir",)
    lists = tuple(n for n in PARAMS if n not in single)
    group = parser.add_argument_group(
        "settings to sweep: each takes a comma list, and every combination runs "
        "(the book's values unless --recipe says)"
    )
    for name in lists:
        p, default = PARAMS[name], DEFAULTS[name]
        shown = "" if default is None or p.type is bool else f" (book: {default})"
        group.add_argument(flag(name), metavar=_list_metavar(p), help=p.help + shown)
    _add_settings(parser.add_argument_group("the same for every run"), single)
    return lists, single


def _list_metavar(p) -> str:
    if p.choices:
        return ",".join(p.choices)
    return {int: "N,...", float: "X,...", bool: "false,true", str: "TEXT,..."}[p.type]


LIST_EXAMPLES = {
    "epochs": "5,10,20",
    "batch_size": "64,256",
    "lr": "0.03,0.1,0.3",
    "seed": "0,1,2",
    "early_stop": "none,5",
}


def split_values(name: str, text: str) -> list:
    """A sweep flag's comma list as typed values, or a one-line error naming the flag. The
    values' ranges are checked by the library, as a train flag's are."""
    p = PARAMS[name]
    generic = {int: "1,2", float: "0,0.1", bool: "false,true", str: "a,b"}[p.type]
    example = ",".join(p.choices[:2]) if p.choices else LIST_EXAMPLES.get(name, generic)
    items = [item.strip() for item in text.split(",")]
    if items == [""]:
        raise ConfigError(f"{{name}}: no values given; list them, e.g. {{name}} {example}", name)
    values: list = []
    for item in items:
        if not item:
            raise ConfigError(
                f"{{name}}: an empty value in {text!r}; list values with one comma between "
                f"them, e.g. {{name}} {example}",
                name,
            )
        if item.lower() == "none" and p.optional:
            values.append(None)
        else:
            values.append(_typed(name, p, item, example))
    return values


def _typed(name: str, p, item: str, example: str):
    try:
        if p.type is bool:
            return {"true": True, "false": False}[item.lower()]
        return p.type(item)
    except (ValueError, KeyError):
        what = {int: "a whole number", float: "a number", bool: "true or false"}[p.type]
        raise ConfigError(
            f"{{name}}: {item!r} is not {what}; list values such as {{name}} {example}", name
        ) from None
