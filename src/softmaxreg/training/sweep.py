"""Sweeps: every combination of a few settings, each trained into an ordinary run folder.

`plan_sweep` turns lists of values into runs (every value checked by its `Param`, every
combination made into a `TrainConfig`) before anything is written. `run_sweep` trains the runs
that are not finished yet into one folder (see `records.sweepdir`), in N worker processes that
train settings one after another (forked from a server process that imported torch once, or
spawned where there is no fork server; neither copies this process), each limited to one
torch thread when N > 1, so that N runs share N cores instead of fighting over them. A run
that fails (it diverges, say) is recorded as failed and the others go on; Ctrl-C stops every
run cleanly with a checkpoint, and the same sweep started again resumes them and redoes
nothing finished.

This module imports torch only inside the functions that train (this process when N = 1; the
workers run `sweep_worker`): the process that merely hands out runs never loads it.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..config import PARAMS, RUNTIME, TrainConfig, format_setting, positive_int
from ..data.dataset import Dataset, load_dataset
from ..data.splits import holdout_rows
from ..errors import ConfigError, Interrupted, SoftmaxRegError
from ..records.rundir import EMPTY, FAILED, FINISHED, STOPPED, UNFINISHED, RunDir
from ..records.summary import RunSummary, summarize
from ..records.sweepdir import SweepDir
from ..views.curves_service import CurvesService
from .signals import stop_requests

PENDING = "pending"  # a planned run not started yet


@dataclass(frozen=True)
class PlannedRun:
    name: str  # its folder under the sweep: the settings that vary, e.g. lr=0.1,batch_size=64
    config: TrainConfig

    def settings(self) -> dict[str, Any]:
        """What it trains (every setting but how to run), as sweep.json records it."""
        return {k: v for k, v in self.config.as_dict().items() if k not in RUNTIME}


class SweepProgress(Protocol):
    def start(self, planned: Mapping[str, int], done: Mapping[str, int]) -> None: ...
    def epoch_done(self, name: str, epoch: int) -> None: ...
    def run_done(self, name: str, summary: RunSummary) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    def start(self, planned: Mapping[str, int], done: Mapping[str, int]) -> None:
        pass

    def epoch_done(self, name: str, epoch: int) -> None:
        pass

    def run_done(self, name: str, summary: RunSummary) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class SweepResult:
    sweep: SweepDir
    runs: list[tuple[str, RunSummary]]  # every planned run, in the plan's order
    swept: list[str]  # the settings that vary
    seconds: float
    stopped: bool  # Ctrl-C (or SIGTERM) stopped it; the same sweep again finishes it
    warnings: list[str]

    @property
    def failed(self) -> list[tuple[str, RunSummary]]:
        return [(name, s) for name, s in self.runs if s.status == FAILED]

    def best(self) -> tuple[str, RunSummary] | None:
        """The run whose model has the highest test accuracy."""
        scored = [(name, s) for name, s in self.runs if s.test_acc is not None]
        return max(scored, key=lambda pair: pair[1].test_acc or 0.0) if scored else None


def plan_sweep(
    grid: Mapping[str, Sequence[Any]], runtime: Mapping[str, Any] | None = None
) -> list[PlannedRun]:
    """Every combination of `grid`'s values (settings in TrainConfig's order, values in the
    given order), each a checked `TrainConfig` with the `runtime` settings (engine, device,
    threads). Raises ConfigError, naming the setting, for an unknown setting, an empty list,
    a value listed twice, a value its `Param` refuses or a combination TrainConfig refuses."""
    unknown = sorted(set(grid) - set(PARAMS))
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(PARAMS)}", unknown[0]
        )
    for name in grid:
        if name in RUNTIME:
            raise ConfigError(
                "{name} says how to run, not what to train: give it once, not as a list", name
            )
        _check_values(name, list(grid[name]))
    ordered = [name for name in PARAMS if name in grid]
    swept = [name for name in ordered if len(grid[name]) > 1]
    how = {k: v for k, v in (runtime or {}).items() if v is not None}
    runs = []
    for combination in itertools.product(*(grid[name] for name in ordered)):
        settings = dict(zip(ordered, combination, strict=True))
        name = run_name(settings, swept)
        try:
            config = TrainConfig(**settings, **how)
        except ConfigError as exc:
            which = f"run {name}: " if swept else ""
            raise exc.prefixed(which) from None
        runs.append(PlannedRun(name, config))
    return runs


def _check_values(name: str, values: list[Any]) -> None:
    if not values:
        raise ConfigError("{name}: no values given; list at least one", name)
    seen: list[Any] = []
    for value in values:
        if value is not None:
            PARAMS[name].check(name, value)
        if any(value == other and type(value) is type(other) for other in seen):
            raise ConfigError(
                f"{{name}}: {format_setting(value, exact=True)} is listed twice", name
            )
        seen.append(value)


def run_name(settings: Mapping[str, Any], swept: Sequence[str]) -> str:
    """A run's folder name: the settings that vary across the sweep, `lr=0.1,batch_size=64`
    (`run` when nothing varies)."""
    # exact: every digit, so that two values never share a folder
    name = ",".join(f"{key}={format_setting(settings[key], exact=True)}" for key in swept)
    return (name or "run").replace(os.sep, "_").replace("/", "_")


def swept_settings(runs: Sequence[PlannedRun]) -> list[str]:
    """The settings whose values differ between the runs, in TrainConfig's order."""
    return [
        name
        for name in PARAMS
        if name not in RUNTIME and len({repr(r.settings()[name]) for r in runs}) > 1
    ]


def run_sweep(
    grid: Mapping[str, Sequence[Any]],
    out: str | Path,
    *,
    jobs: int = 1,
    runtime: Mapping[str, Any] | None = None,
    progress: SweepProgress | None = None,
    command: str | None = None,
) -> SweepResult:
    """Train every combination of `grid` into the sweep folder `out`, `jobs` runs at a time;
    write `out/summary.csv` and its picture. Runs already finished in `out` are kept, stopped
    or failed ones resume from their checkpoint. Everything is checked first: the settings,
    the data, and that `out` is new or holds this same sweep. `command` (how to repeat it)
    is recorded in sweep.json.

    With jobs > 1 the workers are spawned processes: a script that calls this must guard its
    own top level with ``if __name__ == "__main__":``, as multiprocessing requires."""
    started = time.perf_counter()
    positive_int("jobs", jobs)
    how = {k: v for k, v in (runtime or {}).items() if v is not None}
    if jobs > 1:
        how.setdefault("threads", 1)  # one core per run: N runs share N cores
    runs = plan_sweep(grid, how)
    datasets = _check_data(runs)
    sweep = SweepDir.prepare(out, {r.name: r.settings() for r in runs}, command)
    todo = [r for r in runs if sweep.run(r.name).state != FINISHED]
    progress = progress or NoProgress()
    progress.start(
        {r.name: r.config.epochs for r in runs},
        {r.name: _epochs_done(sweep.run(r.name)) for r in runs},
    )
    try:
        if jobs == 1 or len(todo) <= 1:
            outcomes = _run_here(sweep, todo, progress, datasets)
        else:
            outcomes = _run_in_pool(sweep, todo, jobs, progress)
    finally:
        progress.close()
    summaries = [(r.name, _summary(sweep, r, outcomes.get(r.name))) for r in runs]
    swept = swept_settings(runs)
    write_summary(sweep, summaries, swept)
    stopped = any(o["status"] == STOPPED for o in outcomes.values())
    notes = [w for o in outcomes.values() for w in o.get("warnings", [])]
    return SweepResult(sweep, summaries, swept, time.perf_counter() - started, stopped, notes)


def _check_data(runs: Sequence[PlannedRun]) -> dict[tuple[str, str | None], Dataset]:
    """Load each data set once here (verifying and caching it, so that workers only map the
    cache), and check each validation split leaves something to train on: a bad data folder
    or fraction is refused before any run starts."""
    datasets: dict[tuple[str, str | None], Dataset] = {}
    for run in runs:
        key = (run.config.dataset, run.config.data_dir)
        if key not in datasets:
            datasets[key] = load_dataset(*key)
        if run.config.val_fraction:
            holdout_rows(len(datasets[key].train_labels), run.config.val_fraction, run.config.seed)
    return datasets


def _epochs_done(run: RunDir) -> int:
    try:
        return len(run.history())
    except (OSError, ValueError, KeyError):
        return 0


def _summary(sweep: SweepDir, planned: PlannedRun, outcome: dict | None) -> RunSummary:
    run = sweep.run(planned.name)
    if run.state == EMPTY:
        summary = RunSummary(run.path, PENDING, planned.config.as_dict())
    else:
        summary = summarize(run)
    if outcome and outcome["status"] == FAILED and summary.status != FAILED:
        # it failed before its folder could record it (its data, say)
        summary.status, summary.reason = FAILED, outcome["reason"]
    return summary


def write_summary(sweep: SweepDir, runs: Sequence[tuple[str, RunSummary]], swept: list[str]):
    """summary.csv (the run, the settings that vary, the results) and its picture."""
    rows = [
        {"run": name, **{k: s.settings.get(k) for k in swept}, **s.results()} for name, s in runs
    ]
    sweep.write_summary(rows)
    from ..views.sweepplot import save_sweep_figure

    save_sweep_figure(runs, swept, sweep.picture_paths())


# -- training the runs ---------------------------------------------------------------------


def train_or_resume(
    path: str | Path,
    config: TrainConfig,
    should_stop: Callable[[], bool],
    callbacks: Sequence[object],
    datasets: dict[tuple[str, str | None], Dataset],
    plotter: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Train `config` into `path`, or resume it there: {"status": finished | stopped | failed,
    "reason": ..., "warnings": [...]}. Any error is the run's failure, not the sweep's.
    `plotter` draws the curves (the runner's own by default)."""
    from ..views.plots import save_curves
    from .runner import resume_run, train_run

    plotter = plotter or save_curves

    outcome: dict[str, Any] = {"status": FINISHED, "reason": ""}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            key = (config.dataset, config.data_dir)
            if key not in datasets:
                datasets[key] = load_dataset(*key)
            if RunDir(path).state == UNFINISHED:
                resume_run(
                    path,
                    callbacks=callbacks,
                    handle_signals=False,
                    should_stop=should_stop,
                    plotter=plotter,
                    dataset=datasets[key],
                    **{name: getattr(config, name) for name in RUNTIME},
                )
            else:
                train_run(
                    config,
                    path,
                    callbacks=callbacks,
                    dataset=datasets[key],
                    handle_signals=False,
                    should_stop=should_stop,
                    plotter=plotter,
                )
        except Interrupted:
            outcome = {"status": STOPPED, "reason": ""}
        except SoftmaxRegError as exc:
            outcome = {"status": FAILED, "reason": str(exc)}
        except Exception as exc:  # a run's own trouble (a full disk, say): the others go on
            outcome = {"status": FAILED, "reason": " ".join(f"{type(exc).__name__}: {exc}".split())}
    outcome["warnings"] = [f"run {Path(path).name}: {w.message}" for w in caught]
    return outcome


class _EpochEvents:
    """Callback: tell `report(name, epoch)` about every finished epoch."""

    def __init__(self, report: Callable[[str, int], None], name: str) -> None:
        self.report, self.name = report, name

    def on_epoch_end(self, trainer, record) -> None:
        self.report(self.name, record.epoch)


def _run_here(
    sweep: SweepDir, todo: Sequence[PlannedRun], progress: SweepProgress, datasets: dict
) -> dict:
    """One run after another in this process (N = 1, or a single run left)."""
    outcomes: dict[str, dict] = {}
    with stop_requests() as stop:
        for planned in todo:
            if stop.is_set():
                break
            run = sweep.run(planned.name)
            events = _EpochEvents(progress.epoch_done, planned.name)
            outcome = train_or_resume(run.path, planned.config, stop.is_set, [events], datasets)
            outcomes[planned.name] = outcome
            progress.run_done(planned.name, _summary(sweep, planned, outcome))
    return outcomes


def _run_in_pool(
    sweep: SweepDir, todo: Sequence[PlannedRun], jobs: int, progress: SweepProgress
) -> dict:
    """The runs shared out to `jobs` worker processes; their epochs come back on a queue for
    the progress bar."""
    context = _worker_context()
    # A SimpleQueue writes each event at once (no feeder thread), so nothing is left unsent
    # when a worker exits without the interpreter's teardown.
    events = context.SimpleQueue()
    outcomes: dict[str, dict] = {}
    workers = min(jobs, len(todo))
    # This process waits meanwhile: it imports matplotlib while the workers import torch (on
    # a core that would idle), draws each run's curves for the worker that trained it, and
    # has the summary's picture ready to draw once the last run ends.
    with (
        CurvesService(rehearse_epochs=max(p.config.epochs for p in todo)) as curves,
        stop_requests() as stop,
        ProcessPoolExecutor(
            workers,
            context,
            initializer=_start_worker,
            initargs=(events, curves.address, curves.authkey),
        ) as pool,
    ):
        futures = {
            pool.submit(_work, str(sweep.run(p.name).path), p.config.as_dict()): p for p in todo
        }
        forwarded = False
        while futures:
            if stop.is_set() and not forwarded:
                forwarded = True
                for future in futures:
                    future.cancel()  # the runs not started yet
                _forward_stop()
            done, _ = wait(futures, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(events, progress)
            for future in done:
                planned = futures.pop(future)
                if future.cancelled():
                    continue
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    outcome = {
                        "status": FAILED,
                        "reason": "its worker process died (killed, or out of memory?); "
                        "run the sweep again to retry it",
                    }
                except Exception as exc:  # the worker could not even report (unpicklable)
                    outcome = {"status": FAILED, "reason": f"{type(exc).__name__}: {exc}"}
                if outcome["status"] == "skipped":
                    continue
                outcomes[planned.name] = outcome
                progress.run_done(planned.name, _summary(sweep, planned, outcome))
        _drain(events, progress)
    return outcomes


# What every worker needs (torch and the runner), imported once by the fork server and shared
# by the workers it forks.
PRELOAD = ["softmaxreg.training.sweep_worker"]


def _worker_context():
    """forkserver where there is one (Linux, macOS): a server process imports torch once and
    forks each worker from it, instead of N processes importing it side by side; spawn
    elsewhere. Neither copies this process, and neither has run torch code before the fork."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _drain(events, progress: SweepProgress) -> None:
    while not events.empty():  # this process is the only reader: get() will not block
        name, epoch = events.get()
        progress.epoch_done(name, epoch)


def _forward_stop() -> None:
    """Ask every worker to stop after its current step. A Ctrl-C at a terminal reaches them
    too, a signal sent to this process alone does not; SIGTERM, because a worker takes a
    second SIGINT (a second Ctrl-C) as "interrupt at once"."""
    for child in multiprocessing.active_children():
        try:
            os.kill(child.pid or 0, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass


# -- in a worker process: the work itself is in sweep_worker, which only workers import ------


def _start_worker(events, curves_address, curves_authkey: bytes) -> None:
    from . import sweep_worker

    sweep_worker.start(events, curves_address, curves_authkey)


def _work(path: str, settings: dict[str, Any]) -> dict[str, Any]:
    from . import sweep_worker

    return sweep_worker.work(path, settings)
