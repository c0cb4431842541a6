"""A sweep's worker process: what it imports once, how it stops, and how it trains one run.

Only the processes a sweep starts import this module (the fork server preloads it, a spawned
worker imports it first thing): importing it loads torch, and nothing more. `start`, which
runs first in every worker, sets the process up: it listens for stop requests, has the sweep's
own process draw each run's curves (it holds matplotlib, so no worker loads it), and makes the
process skip the interpreter's teardown when it exits.
Every run's files are written and its result sent back before a worker is ended, and tearing
down an interpreter that loaded torch would only keep the sweep (and whoever reads its
output) waiting.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..views.curves_service import CurvesClient
from . import runner  # noqa: F401 - torch, once for every run of this process
from .signals import request_stop_on_signals
from .sweep import _EpochEvents, train_or_resume

STOP = threading.Event()
_STATE: dict[str, Any] = {}


def _exit_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0)


def start(events, curves_address, curves_authkey: bytes) -> None:
    """Set up a worker: stop cleanly on SIGINT or SIGTERM (the sweep forwards its own stop as
    SIGTERM), interrupt at once on a second SIGINT (a second Ctrl-C); send each finished
    epoch to `events`; have the `CurvesService` at `curves_address` draw the curves; exit
    without the interpreter's teardown."""
    request_stop_on_signals(STOP)
    plotter = CurvesClient(curves_address, curves_authkey)
    _STATE.update(events=events, datasets={}, plotter=plotter)
    atexit.register(_exit_now)


def work(path: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Train (or resume) one run of the sweep; the outcome as `train_or_resume` says it."""
    if STOP.is_set():
        return {"status": "skipped"}
    config = TrainConfig(**settings)
    events = _EpochEvents(lambda name, epoch: _STATE["events"].put((name, epoch)), Path(path).name)
    return train_or_resume(
        path, config, STOP.is_set, [events], _STATE["datasets"], _STATE["plotter"]
    )
