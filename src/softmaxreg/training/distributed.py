"""Data-parallel training over several processes and machines, on torch.distributed.

torchrun starts the processes (`torchrun --standalone --nproc-per-node 2 -m softmaxreg train
...` on one machine; one torchrun per machine with a c10d rendezvous for several) and each
joins the process group from torchrun's environment: gloo for CPU tensors, NCCL for CUDA ones
where PyTorch has it. Then every process

- loads the data set itself and shows that it loaded the same bytes, with the same settings,
  as every other (sizes and a sha256 of each split, exchanged with all_gather_object);
- draws the same global shuffle from the same seed and takes its share of each global
  minibatch (shares differ by at most one example, so any number of processes up to the batch
  size divides it exactly as one process would);
- takes the gradient of its share's loss divided by the *global* batch size, into one flat
  buffer that also carries the share's loss sum, its correct count and a vote to stop; one
  all_reduce sums the buffers, so every process holds the global mean's gradient and the
  global metrics, and applies the same update one process would have applied;
- gathers its share of the next batch while the all_reduce runs, where the engine gathers
  separately (the PyTorch form and autograd: async_op=True, then wait). The compiled step has
  nothing to gather ahead: it reads each block of rows inside the one pass that needs the
  updated weights.

Global rank 0 alone writes the run folder (`Peers.writes`); every start-up step that can fail
on one process (`together`, `from_writer`) is agreed on, so that a failure anywhere stops every
process with one line instead of leaving the others waiting.
"""

from __future__ import annotations

import atexit
import hashlib
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist

from ..config import PARAMS, TrainConfig
from ..data.dataset import Dataset
from ..errors import ConfigError, SoftmaxRegError
from .engines import SplitStep
from .launch import Launch

T = TypeVar("T")
# A collective that gets no answer for this long means a peer is gone without closing its
# connections (a machine lost, a network cut). It also bounds how much longer one process may
# take than another to load the data set before the first exchange.
PEER_TIMEOUT = timedelta(minutes=5)
# The flat buffer's tail, after the gradients: the share's loss sum, its correct count and
# its vote to stop (a signal or a should_stop() on any process stops every one after the
# same step).
LOSS, CORRECT, STOP = range(3)
_HASH_ROWS = 65536  # rows hashed at a time: bounded memory for a memory-mapped split


class PeerFailed(SoftmaxRegError):
    """Another process could not start: its own message, with where it ran."""


class PeerLost(SoftmaxRegError):
    """Another process stopped answering in the middle of the run."""

    each_process_reports = True  # every survivor says so: the lost one may be the speaker


class PeersDisagree(SoftmaxRegError):
    """The processes loaded different data or were given different settings."""


def share_bounds(batch: int, rank: int, world_size: int) -> tuple[int, int]:
    """The rows [lo, hi) of a global batch that process `rank` takes: the first
    `batch % world_size` processes take one row more than the rest."""
    base, extra = divmod(batch, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def join(threads: int | None = None) -> Peers:
    """This process's peers: under torchrun (world size above 1) it joins the process group;
    alone it returns peers of one, for which every agreement is the process's own word."""
    launch = Launch.from_environ()
    if not launch.distributed:
        return Peers(launch)
    if threads is None:
        # One thread per process: the processes share the machine's cores between them.
        torch.set_num_threads(1)
    _outlive_sigterm()
    if not dist.is_initialized():
        backend = (
            "cpu:gloo,cuda:nccl"
            if torch.cuda.is_available() and dist.is_nccl_available()
            else "gloo"
        )
        with _peer_errors("could not join the other processes"):
            dist.init_process_group(backend, timeout=PEER_TIMEOUT)
        atexit.register(_leave)
    return Peers(launch, _control_group())


class Peers:
    """The processes of one run, as this process sees them."""

    def __init__(self, launch: Launch, control: Any = None) -> None:
        self.launch = launch
        self.control = control  # the group for Python objects (gloo, whatever the tensors use)
        self.host = socket.gethostname()
        self.engine: DataParallelEngine | None = None

    @property
    def distributed(self) -> bool:
        return self.launch.distributed

    @property
    def world_size(self) -> int:
        return self.launch.world_size

    @property
    def writes(self) -> bool:
        return self.launch.writes

    def resume_command(self, run) -> str:
        return self.launch.resume_command(run)

    def place(self, device: torch.device) -> torch.device:
        """Each process of a machine on its own GPU (by local rank)."""
        if self.distributed and device.type == "cuda" and device.index is None:
            device = torch.device("cuda", self.launch.local_rank % torch.cuda.device_count())
            torch.cuda.set_device(device)
        return device

    def check_batch(self, batch_size: int) -> None:
        if batch_size < self.world_size:
            raise ConfigError(
                f"{{name}} {batch_size} leaves some of the {self.world_size} processes without "
                f"a single example per step; use {{name}} {self.world_size} or more, or fewer "
                "processes",
                "batch_size",
            )

    # -- agreeing at start-up -------------------------------------------------------------------

    def together(self, action: Callable[[], T]) -> T:
        """`action()` in every process. If it fails anywhere, it fails everywhere: with the
        process's own error where it failed, with the first failing process's message (and
        where it ran) elsewhere."""
        if not self.distributed:
            return action()
        result: Any = None
        failure: BaseException | None = None
        try:
            result = action()
        except (SoftmaxRegError, OSError) as exc:
            failure = exc
        reports = self._gather((self.host, _report(failure)))
        if failure is not None:
            raise failure
        for rank, (host, report) in enumerate(reports):
            if report is not None:
                raise _peer_error(rank, host, report)
        return result

    def from_writer(self, action: Callable[[], T]) -> T:
        """`action()` in the writing process (rank 0), its result handed to every other (or
        its failure raised everywhere)."""
        if not self.distributed:
            return action()
        result: Any = None
        failure: BaseException | None = None
        if self.writes:
            try:
                result = action()
            except (SoftmaxRegError, OSError) as exc:
                failure = exc
        box = [(result, _report(failure), self.host)]
        with _peer_errors("lost contact with process 0 at start-up"):
            dist.broadcast_object_list(box, src=0, group=self.control)
        if failure is not None:
            raise failure
        result, report, host = box[0]
        if report is not None:
            raise _peer_error(0, host, report)
        return result

    def check_same(self, dataset: Dataset, config: TrainConfig) -> None:
        """Every process loaded the same data and was given the same settings, or one line
        says which process differs and how."""
        if not self.distributed:
            return
        mine = {
            "settings": _settings(config),
            "data": fingerprint(dataset),
            "folder": dataset.provenance().get("found_in"),
        }
        everyone = self._gather((self.host, mine))
        host0, first = everyone[0]
        for rank, (host, theirs) in enumerate(everyone[1:], start=1):
            where = f"process {rank} on {host}"
            setting = next(
                (k for k in first["settings"] if first["settings"][k] != theirs["settings"][k]),
                None,
            )
            if setting is not None:
                raise PeersDisagree(
                    f"{where} was given {setting} {theirs['settings'][setting]!r}, process 0 on "
                    f"{host0} {first['settings'][setting]!r}; start every process with the "
                    "same settings"
                )
            if theirs["data"] != first["data"]:
                raise PeersDisagree(
                    f"{where} loaded other data than process 0 on {host0}: "
                    f"{_data_difference(theirs, first)}; every machine needs the same data set "
                    "files (at the same --data-dir)"
                )

    def _gather(self, item: Any) -> list[Any]:
        items: list[Any] = [None] * self.world_size
        with _peer_errors("lost contact with another process at start-up"):
            dist.all_gather_object(items, item, group=self.control)
        return items

    # -- training -------------------------------------------------------------------------------

    def parallel(self, engine: Any, split: Any) -> tuple[Any, Any]:
        """The engine and the training split as this process steps through them: alone, as
        they are; under torchrun, the engine takes this process's share of each batch and
        all-reduces the gradients, and the split lets it see the next batch early."""
        if not self.distributed:
            return engine, split
        ahead = Lookahead(split) if engine.gathers_separately else None
        self.engine = DataParallelEngine(engine, self.launch, ahead.peek if ahead else None)
        return self.engine, ahead or split

    def stop_rule(self, local: Callable[[], bool]) -> Callable[[], bool]:
        """When to stop: alone, when `local()` says so; under torchrun, when any process's
        `local()` said so at the last all_reduce, so that all stop after the same step."""
        if self.engine is None:
            return local
        self.engine.vote = local
        engine = self.engine
        return lambda: engine.stop_agreed


class DataParallelEngine:
    """An engine's step over every process of the run, with the engine's own interface
    (`step_rows` on the *global* batch, returning the global batch's loss sum and correct
    count), so that the trainer steps the same way alone and under torchrun."""

    def __init__(
        self,
        engine: SplitStep,
        launch: Launch,
        upcoming: Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None]
        | None = None,
    ) -> None:
        self.engine = engine
        self.name = engine.name
        self.model = engine.model
        self.optimizer = engine.optimizer
        self.rank, self.world_size = launch.rank, launch.world_size
        self.upcoming = upcoming
        self.vote: Callable[[], bool] = lambda: False
        self.stop_agreed = False
        params = [p for group in engine.optimizer.param_groups for p in group["params"]]
        sizes = [p.numel() for p in params]
        total = sum(sizes)
        # One buffer, one collective per step: every gradient, then the step's statistics.
        self.flat = torch.zeros(total + 3, dtype=params[0].dtype, device=params[0].device)
        self._gradients = self.flat[:total]
        chunks = self._gradients.split(sizes)
        self.grads = [g.view_as(p) for g, p in zip(chunks, params, strict=True)]
        self._stats = self.flat[total:]
        self._stats_cpu = self._stats.numpy() if self.flat.is_cpu else None
        self._ahead: tuple[torch.Tensor, Any] | None = None  # (global rows, gathered share)
        self._peer_errors = _peer_errors("lost contact with another process")

    def step_rows(
        self, pixels: torch.Tensor, index: torch.Tensor, y: torch.Tensor
    ) -> tuple[float, int]:
        lo, hi = share_bounds(len(index), self.rank, self.world_size)
        if hi > lo:
            ahead, self._ahead = self._ahead, None
            if ahead is not None and ahead[0] is index:
                rows = ahead[1]
            else:
                rows = self.engine.gather_rows(pixels, index[lo:hi])
            loss, correct = self.engine.gradient(rows, y[lo:hi], len(index), self.grads)
        else:  # a last batch smaller than the number of processes
            self._gradients.zero_()
            loss, correct = 0.0, 0
        self._set_stats(loss, correct, self.vote())
        with self._peer_errors:
            work = dist.all_reduce(self.flat, async_op=True)
        self._gather_ahead()
        with self._peer_errors:
            work.wait()
        self.engine.apply_gradient(self.grads)
        loss, correct, votes = self._stats.tolist()
        self.stop_agreed = votes > 0
        return loss, round(correct)

    def _set_stats(self, loss: float, correct: int, stop: bool) -> None:
        if self._stats_cpu is not None:
            self._stats_cpu[LOSS], self._stats_cpu[CORRECT] = loss, correct
            self._stats_cpu[STOP] = float(stop)
        else:
            self._stats.copy_(torch.tensor([loss, correct, float(stop)]))

    def _gather_ahead(self) -> None:
        """The next batch's share, gathered while the all_reduce runs (the current share's rows
        are spent by now, so their buffers may be reused)."""
        if self.upcoming is None:
            return
        upcoming = self.upcoming()
        if upcoming is None:
            return
        pixels, index, _ = upcoming
        lo, hi = share_bounds(len(index), self.rank, self.world_size)
        if hi > lo:
            self._ahead = (index, self.engine.gather_rows(pixels, index[lo:hi]))


class Lookahead:
    """Stands in for a training split: yields its batches unchanged, and lets the engine
    `peek()` at the next one once the current one's rows are gathered, so that it can gather
    the next share during the all_reduce. The next batch is drawn from the same epoch's
    iterator, so the shuffling generator is used exactly as without it."""

    def __init__(self, split: Any) -> None:
        self.split = split
        self._batches: Iterator | None = None
        self._next: Any = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.split, name)

    def __len__(self) -> int:
        return len(self.split)

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None, start: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        self._batches, self._next = iter(self.split.batches(batch_size, generator, start)), None
        try:
            while True:
                item = self._next if self._next is not None else next(self._batches, None)
                self._next = None
                if item is None:
                    return
                yield item
        finally:
            self._batches = self._next = None

    def peek(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        if self._next is None and self._batches is not None:
            self._next = next(self._batches, None)
        return self._next


def fingerprint(dataset: Dataset) -> dict[str, Any]:
    """What identifies the data a process loaded: its classes and image shape, and per split
    the number of examples and a sha256 of the images and labels as loaded."""
    out: dict[str, Any] = {
        "name": dataset.name,
        "classes": list(dataset.classes),
        "image_shape": list(dataset.image_shape),
    }
    for split in ("train", "test"):
        images, labels = dataset.split(split)
        digest = hashlib.sha256()
        for lo in range(0, len(images), _HASH_ROWS):
            digest.update(np.ascontiguousarray(images[lo : lo + _HASH_ROWS]).data)
        digest.update(np.ascontiguousarray(labels, dtype=np.int64).data)
        out[split] = {"examples": len(labels), "sha256": digest.hexdigest()}
    return out


def _data_difference(theirs: dict, first: dict) -> str:
    a, b = theirs["data"], first["data"]
    for key in ("name", "classes", "image_shape"):
        if a[key] != b[key]:
            return f"{key.replace('_', ' ')} {a[key]} instead of {b[key]}"
    where = f" (from {theirs['folder']} and {first['folder']})"
    for split in ("train", "test"):
        if a[split]["examples"] != b[split]["examples"]:
            return (
                f"{a[split]['examples']} {split} examples instead of {b[split]['examples']}" + where
            )
        if a[split]["sha256"] != b[split]["sha256"]:
            return (
                f"{split} split with sha256 {a[split]['sha256'][:12]} instead of "
                f"{b[split]['sha256'][:12]}" + where
            )
    return "a difference"  # pragma: no cover - the fingerprints differ somewhere above


def _settings(config: TrainConfig) -> dict[str, Any]:
    """The settings that decide the numbers: how to run (threads, device, engine) may differ
    between machines, and so may where the data lives (its content is checked instead)."""
    return {k: v for k, v in config.as_dict().items() if not PARAMS[k].runtime and k != "data_dir"}


def _report(failure: BaseException | None) -> tuple | None:
    """A failure as it travels to the other processes."""
    if failure is None:
        return None
    if isinstance(failure, ConfigError):
        return ("config", failure)  # it pickles with its template and parameters
    if isinstance(failure, OSError) and not isinstance(failure, SoftmaxRegError):
        where = f"{failure.filename}: " if failure.filename else ""
        return ("error", f"{where}{failure.strerror or failure}")
    return ("error", str(failure))


def _peer_error(rank: int, host: str, report: tuple) -> SoftmaxRegError:
    kind, failure = report
    prefix = f"process {rank} on {host}: "
    if kind == "config":
        return failure.prefixed(prefix)
    return PeerFailed(prefix + failure)


class _peer_errors:
    """Turns a failed collective (a peer gone, or silent past PEER_TIMEOUT) into PeerLost,
    one line: torch's message starts with where in gloo or NCCL it was raised."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and issubclass(exc_type, RuntimeError):
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc_type.__name__
            if detail.startswith("[") and "] " in detail:
                detail = detail.split("] ", 1)[1]
            detail = detail.split(". ", 1)[0]  # gloo goes on with advice for its own developers
            raise PeerLost(f"{self.what} ({detail})") from None


_control: dict[str, Any] = {}


def _control_group() -> Any:
    """gloo for the start-up's Python objects: NCCL would need a GPU of its own per process."""
    if "group" not in _control:
        default_is_gloo = dist.get_backend() == "gloo"
        _control["group"] = None if default_is_gloo else dist.new_group(backend="gloo")
    return _control["group"]


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _outlive_sigterm() -> None:
    """torchrun sends SIGTERM to every process once one of them fails. A process that is
    about to print why (a start-up failure, a lost peer) must not die before it has said so:
    outside training SIGTERM is let pass (every process leaves on its own once a peer has
    failed, since its next collective fails); training installs its own handler, which stops
    after the current step with a checkpoint."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
