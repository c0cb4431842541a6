"""Stop requests: how a run, a sweep and a sweep's worker processes hear SIGINT and SIGTERM.

The first signal asks for a stop after the current step (training then saves a checkpoint);
a second SIGINT (a second Ctrl-C) interrupts at once. No torch here: a sweep's own process,
which never trains, listens the same way as the processes that do.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def request_stop_on_signals(flag: threading.Event, twice: bool = True) -> dict[Any, Any]:
    """From now on, SIGINT and SIGTERM set `flag`; with `twice`, a SIGINT once `flag` is set
    raises KeyboardInterrupt. Returns the handlers it replaced. Main thread only (Python
    delivers signals there)."""
    previous: dict[Any, Any] = {s: signal.getsignal(s) for s in STOP_SIGNALS}

    def request_stop(signum: int, frame: Any) -> None:
        if twice and flag.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set()

    for s in STOP_SIGNALS:
        signal.signal(s, request_stop)
    return previous


@contextmanager
def stop_requests(enabled: bool = True, twice: bool = True) -> Iterator[threading.Event]:
    """While active, the first SIGINT/SIGTERM sets the event it yields; a second SIGINT
    interrupts at once, if `twice`. (Under torchrun it is not: torchrun passes the terminal's
    Ctrl-C on to its processes again.) Outside the main thread, or not `enabled`, nothing
    listens and the event stays clear."""
    flag = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = request_stop_on_signals(flag, twice)
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
