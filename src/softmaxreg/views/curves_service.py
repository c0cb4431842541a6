"""Drawing the curves of many runs in one process: a sweep's workers ask, its parent draws.

A sweep's workers would otherwise each import matplotlib (and its fork server before them,
while every core but one waits for torch's import). Instead the sweep's own process, which
only hands out runs, imports matplotlib once while the workers start, and draws each run's
curves when the worker that trained it asks. The worker waits for the answer before it writes
its model, so a run folder is still finished only once its figure is there; if the parent
cannot be reached, the worker draws the figure itself.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from .plots import (
    BOOK_YLIM,
    curves_figure,
    curves_job,
    curves_ylim,
    rehearse_curves,
    save_all,
    save_curves,
    subplot_margins,
)


class CurvesService:
    """A listener thread in this process: each connection (one per worker) sends jobs
    `{"history", "paths", "epochs"}` and gets back None (drawn) or the error's text."""

    def __init__(self, rehearse_epochs: int = 10) -> None:
        self.authkey = secrets.token_bytes(16)
        self._listener = Listener(authkey=self.authkey)
        self.address = self._listener.address
        self._lock = threading.Lock()  # one figure at a time: matplotlib's caches are shared
        self._margins: dict[int | None, dict] = {}  # by epochs: see draw
        self._closed = False
        threading.Thread(
            target=self._serve, args=(rehearse_epochs,), name="softmaxreg-curves", daemon=True
        ).start()

    def _serve(self, rehearse_epochs: int) -> None:
        # Import matplotlib and load its fonts now, while the workers import torch.
        self._margins[rehearse_epochs] = rehearse_curves(rehearse_epochs)
        while not self._closed:
            try:
                conn = self._listener.accept()
            except OSError:
                return  # closed
            except Exception:  # a client that failed the handshake: serve the next one
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    job = conn.recv()
                except (EOFError, OSError):
                    return
                try:
                    self.draw(job["history"], job["paths"], job["epochs"])
                    conn.send(None)
                except Exception as exc:
                    conn.send(f"{type(exc).__name__}: {exc}")

    def draw(self, history: Sequence[dict], paths: Sequence[str], epochs: int | None) -> None:
        """The curves, as `save_curves` draws them; tight_layout measured once per number of
        epochs (on the book's y range the margins depend only on the x axis's labels, which
        the epochs fix; `curves_figure` measures a widened range itself)."""
        with self._lock:
            fig = curves_figure(history, epochs, self._margins.get(epochs))
            if curves_ylim(history) == BOOK_YLIM:
                self._margins.setdefault(epochs, subplot_margins(fig))
            save_all(fig, paths)

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def __enter__(self) -> CurvesService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class CurvesClient:
    """A plotter for the runner (`plotter(history, paths, epochs)`) that has a
    `CurvesService` draw the curves, or draws them here when the service cannot."""

    def __init__(self, address: Any, authkey: bytes) -> None:
        self.address, self.authkey = address, authkey
        self._conn: Connection | None = None

    def __call__(
        self, history: Sequence, paths: Sequence[str | Path], epochs: int | None = None
    ) -> list[Path]:
        job = curves_job(history, paths, epochs)
        try:
            if self._conn is None:
                self._conn = Client(self.address, authkey=self.authkey)
            self._conn.send(job)
            if self._conn.recv() is None:
                return [Path(p) for p in paths]
        except (OSError, EOFError, ValueError):
            self._conn = None  # the service is gone: draw here from now on
        return save_curves(history, paths, epochs)
