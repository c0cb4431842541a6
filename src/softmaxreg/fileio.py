"""Atomic file writes: write a temporary file beside the target, fsync it, rename it over.

A reader (or a run killed with SIGKILL at any moment) sees either the old file or the new one,
never half of one. A set of files (a data set's four IDX files, say) is replaced by
`atomic_paths`: every new file is written and made durable before the first old one is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces `path`."""
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(
    paths: Sequence[str | Path], *, remove: Sequence[str | Path] = ()
) -> Iterator[list[Path]]:
    """Temporary paths, one beside each of `paths`, that replace them together on success.

    Two phases: first every temporary is fsynced (where a full disk or an I/O error shows up
    at the latest); only then are the files in `remove` unlinked and the temporaries renamed
    over their targets, back to back, and each folder fsynced once. An error while the new
    files are written or made durable leaves every target as it was; nothing that can run out
    of space happens after the first old file is touched. POSIX has no rename of several files
    at once, though: a crash (or a failing rename) between the unlinks and the last rename can
    still leave some targets old and some new, in a window of a few system calls. On failure
    the temporaries are removed."""
    targets = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmps.append(_create_temporary(target))
        yield list(tmps)
        for tmp in tmps:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        for old in remove:
            Path(old).unlink(missing_ok=True)
        for tmp, target in zip(tmps, targets, strict=True):
            os.replace(tmp, target)
        for folder in dict.fromkeys(
            [*(t.parent for t in targets), *(Path(r).parent for r in remove)]
        ):
            _fsync_dir(folder)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: object) -> Path:
    return atomic_write_bytes(path, json_bytes(obj))


def json_bytes(obj: object) -> bytes:
    """How this project writes JSON files: indented, keys in insertion order, newline-ended."""
    return (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode("utf-8")


class BackgroundWriter:
    """Atomic writes done in submission order on one background thread.

    Training hands over finished bytes after every epoch and goes on while the disk catches
    up (file I/O releases the GIL). `wait()` returns once everything submitted is in place and
    raises the first failure (a full disk, say); after a failure nothing more is written, so
    files never run ahead of one another. `close()` waits, then ends the thread."""

    _STOP = object()

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="softmaxreg-writer", daemon=True)
        self._thread.start()

    def submit(self, path: str | Path, data: bytes) -> None:
        self._raise_failure()
        if not self._thread.is_alive():
            raise RuntimeError("BackgroundWriter.submit after close()")
        self._jobs.put((Path(path), data))

    def wait(self) -> None:
        self._jobs.join()
        self._raise_failure()

    def close(self, quiet: bool = False) -> None:
        """Wait for every write, end the thread; `quiet` keeps a failure to itself (for when
        another error is already on its way)."""
        if self._thread.is_alive():
            self._jobs.put(self._STOP)
            self._thread.join()
        if not quiet:
            self._raise_failure()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is self._STOP:
                    return
                if self._error is None:
                    atomic_write_bytes(*job)
            except BaseException as exc:  # raised in the submitting thread by wait()/close()
                self._error = exc
            finally:
                self._jobs.task_done()


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not supported everywhere (e.g. Windows), so best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temporary(path: Path) -> Path:
    """A new, empty hidden file beside `path`, created with mode 0666 so that the kernel
    applies the umask, as for a plain open(): the umask is never read or changed here (it is
    process-wide, and this runs on the background writer's thread too)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, flags, 0o666))
            return tmp
        except FileExistsError:
            continue
