"""A training run as a folder: set up, train with checkpoints, write the results, or resume.

The run folder and its files belong to `RunDir`; this module decides what goes in them and
when. Data and arguments are checked before the folder is touched, so a bad input leaves
nothing behind; while a process trains into a folder it holds the folder's lock, so a second
process cannot write the same files.
"""

from __future__ import annotations

import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import TrainConfig
from ..data.dataset import Dataset, load_dataset
from ..errors import ConfigError, Interrupted
from ..fileio import BackgroundWriter, atomic_write_bytes
from ..records.history import EpochRecord
from ..records.modelfile import LinearWeights
from ..records.rundir import RunDir
from ..version import __version__
from ..views.plots import save_curves
from .checkpoint import optimizer_settings, restore, state_arrays
from .engines import SGDParams, make_engine
from .loader import InMemorySplit
from .model import build_model, linear_of
from .shuffle import ShufflePlan, choose_shuffle
from .trainer import Position, Trainer

# Two streams from one seed, so that changing the shuffling never changes the initial weights.
INIT_STREAM, SHUFFLE_STREAM = 0, 1
Plotter = Callable[[Sequence[EpochRecord], Sequence[Path], int], Any]


@dataclass
class RunResult:
    run: RunDir
    model: nn.Module
    history: list[EpochRecord]
    config: TrainConfig
    dataset: Dataset
    seconds: float

    @property
    def path(self) -> Path:
        return self.run.path


@dataclass
class Job:
    """Everything one training process needs, whether it starts a run or resumes one."""

    run: RunDir
    config: TrainConfig
    dataset: Dataset
    device: torch.device
    started: float
    callbacks: Sequence[object] = ()
    plotter: Plotter = save_curves
    handle_signals: bool = True
    should_stop: Callable[[], bool] | None = None
    resume: bool = False
    shuffle: ShufflePlan = ShufflePlan.from_record(None)  # the global shuffle


def train_run(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    callbacks: Sequence[object] = (),
    dataset: Dataset | None = None,
    handle_signals: bool = True,
    plotter: Plotter = save_curves,
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Train `config` into the run folder `out` (default: runs/<dataset>-<time>).

    `plotter(history, paths, epochs)` draws the curves (e.g. a `views.plots.CurvesWorker`);
    `should_stop()`, polled after every step like SIGINT, stops cleanly with a checkpoint."""
    started = time.perf_counter()
    device = setup_device(config)
    dataset = dataset or load_dataset(config.dataset, config.data_dir)
    shuffle = choose_shuffle(config.shuffle, dataset.train_images)
    run = RunDir.create(Path(out) if out else RunDir.default_path(config.dataset), overwrite)
    job = Job(
        run,
        config,
        dataset,
        device,
        started,
        callbacks,
        plotter,
        handle_signals,
        should_stop,
        shuffle=shuffle,
    )
    with run.lock():
        if overwrite:
            run.clear()
        run.write_record({**describe_run(config, dataset, device), "shuffle": shuffle.record()})
        return _execute(job)


def resume_run(
    run_dir: str | Path,
    *,
    callbacks: Sequence[object] = (),
    threads: int | None = None,
    device: str | None = None,
    handle_signals: bool = True,
    plotter: Plotter = save_curves,
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Continue a run from its last checkpoint (or from the start if it has none yet); only
    how it runs (`threads`, `device`) may differ from the recorded settings."""
    started = time.perf_counter()
    run = RunDir.existing(run_dir)
    config = run.config().replace(
        **{k: v for k, v in (("threads", threads), ("device", device)) if v is not None}
    )
    dev = setup_device(config)
    dataset = load_dataset(config.dataset, config.data_dir)
    job = Job(
        run,
        config,
        dataset,
        dev,
        started,
        callbacks,
        plotter,
        handle_signals,
        should_stop,
        resume=True,
        shuffle=ShufflePlan.from_record(run.record().get("shuffle")),
    )
    with run.lock():
        return _execute(job)


def _execute(job: Job) -> RunResult:
    config, dataset = job.config, job.dataset
    init_gen = torch.Generator().manual_seed(config.seed * 2 + INIT_STREAM)
    shuffle_gen = torch.Generator().manual_seed(config.seed * 2 + SHUFFLE_STREAM)
    model = build_model(dataset.num_inputs, dataset.num_classes, config.init_std, init_gen)
    model.to(job.device)
    sgd = SGDParams(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=config.nesterov,
    )
    engine = make_engine(config.engine, model, sgd)
    position, history = Position(), list[EpochRecord]()
    saved = job.run.read_checkpoint() if job.resume else None
    if saved is not None:
        arrays, meta = saved
        rng = restore(model, engine.optimizer, arrays, meta, job.run.file(RunDir.CHECKPOINT))
        position, history = _position_from(meta, rng)
        if position.step == 0:
            shuffle_gen.set_state(rng)
    writer = RunWriter(job.run, config, dataset, job.plotter)
    trainer = Trainer(
        model=model,
        engine=engine,
        train=job.shuffle.split(dataset.train_images, dataset.train_labels, job.device),
        test=InMemorySplit(dataset.test_images, dataset.test_labels, job.device),
        epochs=config.epochs,
        batch_size=config.batch_size,
        generator=shuffle_gen,
        lr_at=config.lr_at,
        callbacks=[writer, *job.callbacks],
        history=history,
        position=position,
        num_classes=dataset.num_classes,
    )
    with stop_requests(job.handle_signals) as stop:
        asked = job.should_stop
        trainer.should_stop = stop.is_set if asked is None else lambda: stop.is_set() or asked()
        try:
            trainer.run()
        except Interrupted as stop:
            writer.files.close(quiet=True)
            raise Interrupted(
                f"{stop}; checkpoint saved; resume with: softmaxreg train --resume {job.run.path}"
            ) from None
        except BaseException:
            writer.files.close(quiet=True)  # the last epoch's files land before the error shows
            raise
    writer.finish(trainer)
    return RunResult(
        job.run, model, trainer.history, config, dataset, time.perf_counter() - job.started
    )


class RunWriter:
    """Callback: checkpoint and metrics after every epoch (and on a clean stop), results at
    the end. Every file is written atomically; the per-epoch ones on a background thread, so
    that training does not wait for the disk (their bytes are a snapshot taken at the epoch's
    end)."""

    def __init__(self, run: RunDir, config: TrainConfig, dataset: Dataset, plotter: Plotter):
        self.run = run
        self.config = config
        self.dataset = dataset
        self.plotter = plotter
        self.files = BackgroundWriter()

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self.files.submit(self.run.file(RunDir.CHECKPOINT), self.checkpoint(trainer))
        for path, data in self.run.metrics_files(trainer.history).items():
            self.files.submit(path, data)

    def on_stop(self, trainer: Trainer) -> None:
        self.files.wait()
        atomic_write_bytes(self.run.file(RunDir.CHECKPOINT), self.checkpoint(trainer))

    def checkpoint(self, trainer: Trainer) -> bytes:
        """The checkpoint's bytes, made now. It carries the settings and the data's
        provenance (as the run's record does), so the file alone says what it belongs to."""
        pos = trainer.position
        rng = pos.epoch_rng if pos.step else trainer.generator.get_state()
        assert rng is not None
        meta = {
            "epoch": pos.epoch,
            "step": pos.step,
            "partial": {
                "loss_sum": pos.loss_sum,
                "correct": pos.correct,
                "count": pos.count,
                "seconds": pos.seconds,
            },
            "history": [r.as_dict() for r in trainer.history],
            "param_groups": optimizer_settings(trainer.optimizer),
            **self.model_meta(),
        }
        arrays = state_arrays(trainer.model, trainer.optimizer, rng)
        return self.run.checkpoint_bytes(arrays, meta)

    def model_meta(self) -> dict[str, Any]:
        return {
            "classes": list(self.dataset.classes),
            "image_shape": list(self.dataset.image_shape),
            "dataset": self.dataset.name,
            "config": self.config.as_dict(),
        }

    def finish(self, trainer: Trainer) -> None:
        self.files.close()
        self.plotter(trainer.history, self.run.files_named(RunDir.CURVES), self.config.epochs)
        linear = linear_of(trainer.model)
        assert linear is not None and linear.bias is not None
        final = trainer.history[-1].as_dict() if trainer.history else {}
        weights = LinearWeights(
            weight=linear.weight.detach().cpu().numpy(),
            bias=linear.bias.detach().cpu().numpy(),
            classes=self.dataset.classes,
            image_shape=self.dataset.image_shape,
            meta={**self.model_meta(), "final": final},
        )
        self.run.write_model(weights)


def _position_from(meta: dict, rng: torch.Tensor) -> tuple[Position, list[EpochRecord]]:
    history = [EpochRecord(**r) for r in meta.get("history", [])]
    partial = meta.get("partial", {})
    pos = Position(epoch=int(meta["epoch"]), step=int(meta["step"]), **partial)
    pos.epoch_rng = rng if pos.step else None
    return pos, history


def describe_run(config: TrainConfig, dataset: Dataset, device: torch.device) -> dict:
    """The run's record (config.json): settings, where it ran, the data's provenance."""
    return {
        "config": config.as_dict(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "versions": {
            "softmaxreg": __version__,
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "platform": platform.platform(),
        "dataset": dataset.provenance(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
    }


def setup_device(config: TrainConfig) -> torch.device:
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("{name} cuda: no CUDA device is available; use {name} cpu", "device")
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.device)


@contextmanager
def stop_requests(enabled: bool = True) -> Iterator[threading.Event]:
    """While active, the first SIGINT/SIGTERM asks training to stop after the current step
    (it then saves a checkpoint); a second SIGINT interrupts at once."""
    flag = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def request_stop(signum, frame):
        if flag.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        flag.set()

    for s in previous:
        signal.signal(s, request_stop)
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
