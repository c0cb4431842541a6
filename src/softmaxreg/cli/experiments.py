"""Experiments: softmaxreg sweep (every combination of some settings), softmaxreg compare (runs
side by side on one page) and softmaxreg runs (the run folders under a folder, at a glance)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ..errors import ConfigError
from .arguments import EXIT_INTERRUPTED, add_sweep_flags, split_values

EXIT_RUNS_FAILED = 1  # the sweep finished, but some of its runs failed (summary.csv says why)


def add_parsers(sub) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="train every combination of some settings; a run folder each, a summary",
        description="Train every combination of the listed values (--lr 0.03,0.1,0.3 "
        "--batch-size 64,256) into run folders under --out, N at a time; write "
        "summary.csv and summary.svg/.png there. The same command again finishes a sweep "
        "that was stopped and redoes nothing finished.",
    )
    lists, single = add_sweep_flags(sweep)
    how = sweep.add_argument_group("the sweep")
    how.add_argument("--out", required=True, help="sweep folder: one run folder per run")
    how.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="runs trained at once, each in its own worker process with one torch thread (1)",
    )
    how.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    sweep.set_defaults(func=cmd_sweep, lists=lists, single=single)

    compare = sub.add_parser("compare", help="runs side by side: one self-contained HTML page")
    compare.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders, or folders of runs (a sweep's)"
    )
    compare.add_argument(
        "--out",
        metavar="FILE.html",
        help="where to write it (default: compare.html in the folder that holds the runs)",
    )
    compare.set_defaults(func=cmd_compare)

    runs = sub.add_parser("runs", help="list the run folders under DIR with their results")
    runs.add_argument(
        "dir", nargs="?", default="runs", metavar="DIR", help="searched recursively (runs/)"
    )
    runs.add_argument("--json", action="store_true", help="one JSON object per run")
    runs.set_defaults(func=cmd_runs)


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..training.sweep import run_sweep
    from ..views.progress import SweepBar

    grid = {
        name: split_values(name, getattr(args, name))
        for name in args.lists
        if getattr(args, name) is not None
    }
    runtime = {name: getattr(args, name) for name in args.single if name != "data_dir"}
    if args.data_dir is not None:
        grid["data_dir"] = [args.data_dir]
    progress = None if args.quiet else SweepBar()
    command = shlex.join(["softmaxreg", *map(str, args.argv)])
    result = run_sweep(
        grid, args.out, jobs=args.jobs, runtime=runtime, progress=progress, command=command
    )
    for note in result.warnings:
        print(f"softmaxreg: warning: {note}", file=sys.stderr)
    if not args.quiet:
        _print_sweep(result)
    if result.stopped:
        print(
            f"softmaxreg: sweep stopped; every run saved a checkpoint; finish it with the same "
            f"command: {command}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if result.failed:
        name, first = result.failed[0]
        print(
            f"softmaxreg: error: {len(result.failed)} of {len(result.runs)} runs failed "
            f"({name}: {first.reason}); see {result.sweep.file(result.sweep.SUMMARY)}",
            file=sys.stderr,
        )
        return EXIT_RUNS_FAILED
    return 0


def _print_sweep(result) -> None:
    counts: dict[str, int] = {}
    for _, summary in result.runs:
        counts[summary.status] = counts.get(summary.status, 0) + 1
    states = ", ".join(f"{n} {status}" for status, n in counts.items())
    print(f"sweep of {len(result.runs)} runs in {result.seconds:.1f} s: {states}")
    best = result.best()
    if best is not None:
        name, summary = best
        print(f"best: {name}: test acc {summary.test_acc:.4f} ({summary.path})")
    paths = [result.sweep.file(result.sweep.SUMMARY), *result.sweep.picture_paths()]
    print("summary: " + ", ".join(str(p) for p in paths))


def cmd_compare(args: argparse.Namespace) -> int:
    from ..views.compare import write_compare

    print(write_compare(args.runs, args.out))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from ..records.summary import find_runs, summarize

    root = Path(args.dir)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such folder; pass the folder that holds your runs")
    summaries = [summarize(run) for run in find_runs(root)]
    if not summaries:
        print(f"softmaxreg: no run folders under {root}", file=sys.stderr)
        return 0
    if args.json:
        for s in summaries:
            print(json.dumps({"run": str(s.path), **s.results(), "settings": s.settings}))
        return 0
    from ..views.progress import runs_table

    print(runs_table(summaries, root))
    return 0
