"""The command line: each command's module parses its arguments and calls the library; this
one turns the library's errors into one-line messages and exit statuses.

Nothing here imports torch at module level, so `softmaxreg --help`, `data`, `predict` and the
other commands that do not train start fast; each command imports what it needs.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import NoReturn

from ..errors import ConfigError, Interrupted, SoftmaxRegError
from ..version import __version__
from . import book, data, experiments, export, inspect, serve, train
from .arguments import EXIT_INTERRUPTED, EXIT_USAGE, Parser, flag

EXIT_CLOSED_PIPE = 128 + 13  # what a shell reports for a tool ended by SIGPIPE
# Each module adds its sub-commands, in this order (`softmaxreg --help` lists them so).
COMMANDS = (train, data, inspect, experiments, export, serve, book)


def build_parser() -> Parser:
    parser = Parser(
        prog="softmaxreg",
        description="Train, inspect and serve softmax-regression image classifiers "
        "(Dive into Deep Learning, chapter 3.7) offline and fast.",
    )
    parser.add_argument("--version", action="version", version=f"softmaxreg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS:
        module.add_parsers(sub)
    return parser


def _one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"softmaxreg: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for a sweep to record
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    warnings.showwarning = _one_line_warnings
    try:
        return args.func(args)
    except Interrupted as exc:
        _report(args, exc, f"softmaxreg: {exc}")
        return EXIT_INTERRUPTED
    except ConfigError as exc:  # the parameter by its flag: --epochs, not epochs
        message = exc.naming(flag(exc.param) if exc.param else None, flag)
        _report(args, exc, f"softmaxreg: error: {message}")
        return EXIT_USAGE
    except SoftmaxRegError as exc:
        _report(args, exc, f"softmaxreg: error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        _report(args, exc, "softmaxreg: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as exc:
        # Disk full, permission denied and the like: name the file, no traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        _report(args, exc, f"softmaxreg: error: {where}{exc.strerror or exc}")
        return EXIT_USAGE


def _report(args, exc: BaseException, line: str) -> None:
    """Print the error's line, unless the command says another process prints it (under
    torchrun, one process per machine speaks for all: `args.reports_error`)."""
    if getattr(args, "reports_error", lambda exc: True)(exc):
        print(line, file=sys.stderr)


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
    takes a noticeable share of a whole training run. By now every file the command wrote is
    closed, fsynced and renamed into place and every child process has been waited for, so
    only the standard streams need flushing first."""
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
    if "torch" not in sys.modules and "matplotlib" not in sys.modules:
        sys.exit(code)
    os._exit(code)
