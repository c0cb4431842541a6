"""A training run as a folder: set up, train with checkpoints, write the results, or resume.

The run folder and its files belong to `RunDir`; this module decides what goes in them and
when. Data and arguments are checked before the folder is touched, so a bad input leaves
nothing behind; while a process trains into a folder it holds the folder's lock, so a second
process cannot write the same files. A run that ends in an error (not a stop) records why in
its folder, so that it reads as failed rather than stopped.
"""

from __future__ import annotations

import contextlib
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import PARAMS, RUNTIME, TrainConfig
from ..data.dataset import Dataset, load_dataset
from ..data.splits import holdout_rows, rows_digest
from ..errors import CheckpointError, ConfigError, Interrupted, SoftmaxRegError
from ..fileio import BackgroundWriter, atomic_write_bytes
from ..records.history import EpochRecord
from ..records.modelfile import LinearWeights
from ..records.rundir import RunDir
from ..version import __version__
from ..views.plots import save_curves
from .checkpoint import optimizer_settings, restore, state_arrays
from .distributed import PeerLost, Peers, join
from .early_stop import EarlyStopping
from .engines import SGDParams, make_engine
from .launch import Launch
from .loader import InMemorySplit, TrainSplit
from .model import build_model, linear_of
from .shuffle import ShufflePlan, choose_shuffle
from .signals import stop_requests
from .trainer import Position, Trainer

# Two streams from one seed, so that changing the shuffling never changes the initial weights.
INIT_STREAM, SHUFFLE_STREAM = 0, 1
Plotter = Callable[[Sequence[EpochRecord], Sequence[Path], int], Any]
Holdout = tuple[np.ndarray, np.ndarray]  # (training rows, validation rows) of the train set


@dataclass
class RunResult:
    run: RunDir
    model: nn.Module
    history: list[EpochRecord]
    config: TrainConfig
    dataset: Dataset
    seconds: float
    kept_epoch: int | None = None  # with early stopping: the epoch model.safetensors holds
    stopped_early: bool = False

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
    holdout: Holdout | None = None
    checkpoint: tuple[dict, dict] | None = None  # what to resume from (read by rank 0)
    peers: Peers = field(default_factory=lambda: Peers(Launch()))


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
    # Under torchrun every process loads the data and shows it loaded the same; rank 0 alone
    # makes the run folder (distributed.py).
    peers = join(config.threads)
    device = peers.place(device)
    # Drawn and checked before the folder is made: a bad fraction leaves nothing behind.
    dataset, holdout = _data_for(peers, config, dataset)
    shuffle = choose_shuffle(config.shuffle, dataset.train_images)
    if holdout is not None and shuffle.kind == "block":
        raise ConfigError(
            "{name} holds out rows of a training set kept in memory, but this one is read in "
            "blocks from disk (--shuffle block); hold a validation set out when preparing "
            "the data instead",
            "val_fraction",
        )
    with ExitStack() as held:

        def open_run() -> RunDir:
            run = RunDir.create(
                Path(out) if out else RunDir.default_path(config.dataset), overwrite
            )
            held.enter_context(run.lock())
            if overwrite:
                run.clear()
            record = describe_run(config, dataset, device, peers.world_size, holdout)
            run.write_record({**record, "shuffle": shuffle.record()})
            return run

        run = peers.from_writer(open_run)
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
            holdout=holdout,
            peers=peers,
        )
        with failures_recorded(run, peers.writes):
            return _execute(job)


def resume_run(
    run_dir: str | Path,
    *,
    callbacks: Sequence[object] = (),
    handle_signals: bool = True,
    plotter: Plotter = save_curves,
    should_stop: Callable[[], bool] | None = None,
    dataset: Dataset | None = None,
    **runtime: Any,
) -> RunResult:
    """Continue a run from its last checkpoint (or from the start if it has none yet). Only
    how it runs may differ from the recorded settings: `runtime` holds any of the settings
    marked runtime (engine, device, threads); None keeps the recorded value. `dataset`, when
    given, is the run's data set already loaded (a sweep's, say)."""
    started = time.perf_counter()
    runtime = runtime_changes(runtime)
    peers = join(runtime.get("threads"))
    with ExitStack() as held:

        def open_run() -> tuple[RunDir, TrainConfig, tuple[dict, dict] | None]:
            run = RunDir.existing(run_dir)
            recorded = run.config()
            held.enter_context(run.lock())
            run.clear_failure()
            return run, recorded, run.read_checkpoint()

        # Rank 0 reads the run; the other processes (on other machines, maybe) get it from it.
        run, recorded, saved = peers.from_writer(open_run)
        config = recorded.replace(**runtime)
        dev = peers.place(setup_device(config))
        dataset, holdout = _data_for(peers, config, dataset)
        _check_same_holdout(run, holdout)
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
            holdout=holdout,
            checkpoint=saved,
            peers=peers,
        )
        with failures_recorded(run, peers.writes):
            return _execute(job)


def _data_for(
    peers: Peers, config: TrainConfig, given: Dataset | None
) -> tuple[Dataset, Holdout | None]:
    """The run's data set (`given`, or loaded) as every process holds it, checked to be the
    same everywhere, and the rows it holds out for validation."""
    dataset = peers.together(lambda: given or load_dataset(config.dataset, config.data_dir))
    peers.check_same(dataset, config)
    peers.check_batch(config.batch_size)
    return dataset, validation_holdout(config, dataset)


def runtime_changes(settings: dict[str, Any]) -> dict[str, Any]:
    """The runtime settings given (None: keep the run's own); ConfigError, in one line, for
    any other setting, since it would change what the run trains."""
    fixed = [name for name in settings if name not in PARAMS or not PARAMS[name].runtime]
    if fixed:
        raise ConfigError(
            "a resumed run keeps the settings it recorded; only how it runs may change "
            f"({', '.join(RUNTIME)}), not {{name}}",
            fixed[0],
        )
    given = {name: value for name, value in settings.items() if value is not None}
    for name, value in given.items():  # checked before the run's folder is touched
        PARAMS[name].check(name, value)
    return given


def validation_holdout(config: TrainConfig, dataset: Dataset) -> Holdout | None:
    """The rows held out for validation (drawn from the run's seed), or None without."""
    if not config.val_fraction:
        return None
    return holdout_rows(len(dataset.train_labels), config.val_fraction, config.seed)


def _check_same_holdout(run: RunDir, holdout: Holdout | None) -> None:
    recorded = run.record().get("validation")
    if holdout is not None and recorded and recorded["rows_sha256"] != rows_digest(holdout[1]):
        raise CheckpointError(
            f"{run.file(RunDir.CONFIG)}: the validation split drawn now differs from the one "
            "this run recorded (another numpy's random stream?), so it cannot resume "
            "identically; train it again with --overwrite"
        )


@contextlib.contextmanager
def failures_recorded(run: RunDir, writes: bool = True) -> Iterator[None]:
    """A run that ends in an error says why in its folder (a stop, Ctrl-C, says nothing: the
    run is merely unfinished and resumable); under torchrun, the process that writes does."""
    if not writes:
        yield
        return
    try:
        yield
    except Interrupted:
        raise
    except Exception as exc:
        reason = str(exc) if isinstance(exc, SoftmaxRegError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(OSError, ValueError):  # the original error matters more
            run.record_failure(" ".join(reason.split()), len(run.history()))
        raise


def _splits(job: Job) -> tuple[TrainSplit, InMemorySplit | None, InMemorySplit]:
    """(training, validation or None, test) splits on the job's device."""
    images, labels = job.dataset.split("train")
    device = job.device
    test = InMemorySplit(*job.dataset.split("test"), device)
    if job.holdout is None:
        return job.shuffle.split(images, labels, device), None, test
    rows, held = job.holdout
    val = InMemorySplit(images[held], labels[held], device)
    return job.shuffle.split(images[rows], labels[rows], device), val, test


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
    early = EarlyStopping(config.early_stop, model) if config.early_stop else None
    position, history = Position(), list[EpochRecord]()
    saved = job.checkpoint
    if saved is not None:
        arrays, meta = saved
        path = job.run.file(RunDir.CHECKPOINT)
        rng = restore(model, engine.optimizer, arrays, meta, path)
        position, history = _position_from(meta, rng)
        if position.step == 0:
            shuffle_gen.set_state(rng)
        if early is not None:
            early.restore(history, arrays, path)
    train, val, test = _splits(job)
    # Under torchrun: this process's share of each batch, the gradients all-reduced.
    engine, train = job.peers.parallel(engine, train)
    writer = RunWriter(job.run, config, dataset, job.plotter, early) if job.peers.writes else None
    trainer = Trainer(
        model=model,
        engine=engine,
        train=train,
        test=test,
        val=val,
        # early stopping first: the epoch's checkpoint then holds the best weights so far
        stop_training=early is not None and early.stopped_after is not None,
        epochs=config.epochs,
        batch_size=config.batch_size,
        generator=shuffle_gen,
        lr_at=config.lr_at,
        callbacks=[*([early] if early else []), *([writer] if writer else []), *job.callbacks],
        history=history,
        position=position,
        num_classes=dataset.num_classes,
    )
    with stop_requests(job.handle_signals, twice=not job.peers.distributed) as stop:
        asked = job.should_stop
        local = stop.is_set if asked is None else lambda: stop.is_set() or asked()
        trainer.should_stop = job.peers.stop_rule(local)
        resume = job.peers.resume_command(job.run.path)
        try:
            trainer.run()
        except Interrupted as stop:
            if writer:
                writer.files.close(quiet=True)
            raise Interrupted(f"{stop}; checkpoint saved; resume with: {resume}") from None
        except PeerLost as lost:
            # Rank 0 saves where every process had got to (the failed step was not applied).
            pos = trainer.position
            if writer:
                if pos.step:
                    writer.on_stop(trainer)
                writer.files.close(quiet=True)
            kept = f"checkpoint at epoch {pos.epoch + 1} step {pos.step}"
            if not pos.step:
                kept = f"checkpoint after epoch {pos.epoch}" if pos.epoch else "no checkpoint yet"
            raise PeerLost(f"{lost}; {kept}; resume with: {resume}") from None
        except BaseException:
            if writer:  # the last epoch's files land before the error shows
                writer.files.close(quiet=True)
            raise
    if writer:
        writer.finish(trainer)
    return RunResult(
        job.run,
        model,
        trainer.history,
        config,
        dataset,
        time.perf_counter() - job.started,
        kept_epoch=early.best_epoch if early else None,
        stopped_early=bool(early and early.stopped_after),
    )


class RunWriter:
    """Callback: checkpoint and metrics after every epoch (and on a clean stop), results at
    the end. Every file is written atomically; the per-epoch ones on a background thread, so
    that training does not wait for the disk (their bytes are a snapshot taken at the epoch's
    end)."""

    def __init__(
        self,
        run: RunDir,
        config: TrainConfig,
        dataset: Dataset,
        plotter: Plotter,
        early: EarlyStopping | None = None,
    ):
        self.run = run
        self.config = config
        self.dataset = dataset
        self.plotter = plotter
        self.early = early  # with early stopping, the model file holds its best epoch
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
        if self.early is not None:
            arrays.update(self.early.arrays())
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
        # The axes span every epoch asked for, or those trained when early stopping ended it.
        early_end = self.early.stopped_after if self.early is not None else None
        shown = early_end or self.config.epochs
        self.plotter(trainer.history, self.run.files_named(RunDir.CURVES), shown)
        linear = linear_of(trainer.model)
        assert linear is not None and linear.bias is not None
        final = trainer.history[-1].as_dict() if trainer.history else {}
        weight, bias = linear.weight.detach().cpu().numpy(), linear.bias.detach().cpu().numpy()
        meta = {**self.model_meta(), "final": final}
        early = self.early
        if early is not None and early.best_epoch is not None:
            weight, bias = early.best_weights["weight"], early.best_weights["bias"]
            kept = trainer.history[early.best_epoch - 1].as_dict()
            meta |= {"kept_epoch": early.best_epoch, "kept": kept}
        weights = LinearWeights(
            weight=weight,
            bias=bias,
            classes=self.dataset.classes,
            image_shape=self.dataset.image_shape,
            meta=meta,
        )
        self.run.write_model(weights)


def _position_from(meta: dict, rng: torch.Tensor) -> tuple[Position, list[EpochRecord]]:
    history = [EpochRecord(**r) for r in meta.get("history", [])]
    partial = meta.get("partial", {})
    pos = Position(epoch=int(meta["epoch"]), step=int(meta["step"]), **partial)
    pos.epoch_rng = rng if pos.step else None
    return pos, history


def describe_run(
    config: TrainConfig,
    dataset: Dataset,
    device: torch.device,
    world_size: int = 1,
    holdout: Holdout | None = None,
) -> dict:
    """The run's record (config.json): settings, where it ran (on how many processes), the
    data's provenance (and which training examples it held out for validation)."""
    validation = {}
    if holdout is not None:
        rows, held = holdout
        validation = {
            "validation": {
                "fraction": config.val_fraction,
                "examples": len(held),
                "training_examples": len(rows),
                "drawn_from": f"seed {config.seed}",
                "rows_sha256": rows_digest(held),
            }
        }
    return {
        "config": config.as_dict(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "world_size": world_size,
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
        **validation,
    }


def setup_device(config: TrainConfig) -> torch.device:
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("{name} cuda: no CUDA device is available; use {name} cpu", "device")
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.device)
