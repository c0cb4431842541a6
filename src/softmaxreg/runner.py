"""A training run as a folder: set up, train with checkpoints, write the results, or resume.

A run folder holds `config.json` (written first: every setting, the seed, versions, the data's
provenance), `checkpoint.safetensors` and `metrics.csv` / `metrics.json` (rewritten atomically
after every epoch), then `curves.svg`, `curves.png` and finally `model.safetensors`, whose
presence marks the run complete. Data and arguments are checked before the folder is touched,
so a bad input leaves nothing behind.
"""

from __future__ import annotations

import csv
import io
import platform
import signal
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import __version__
from .checkpoint import checkpoint_bytes, load_checkpoint, save_model
from .config import CONFIG, TrainConfig, read_run_config
from .data.dataset import Dataset, load_dataset
from .data.loader import InMemorySplit
from .engines import SGDParams, make_engine
from .errors import ConfigError
from .fileio import BackgroundWriter, atomic_write_bytes, atomic_write_json, json_bytes
from .model import build_model
from .plots import save_curves
from .trainer import EpochRecord, Position, Trainer

CHECKPOINT, MODEL = "checkpoint.safetensors", "model.safetensors"
METRICS_CSV, METRICS_JSON = "metrics.csv", "metrics.json"
RUN_FILES = (CONFIG, CHECKPOINT, METRICS_CSV, METRICS_JSON, "curves.svg", "curves.png", MODEL)
CSV_HEADER = ("epoch", "train_loss", "train_acc", "test_acc", "seconds")
# Two streams from one seed, so that changing the shuffling never changes the initial weights.
INIT_STREAM, SHUFFLE_STREAM = 0, 1


@dataclass
class RunResult:
    path: Path
    model: nn.Module
    history: list[EpochRecord]
    config: TrainConfig
    dataset: Dataset
    seconds: float


def train_run(
    config: TrainConfig,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    callbacks: Sequence[object] = (),
    dataset: Dataset | None = None,
    handle_signals: bool = True,
    plotter=save_curves,
    should_stop=None,
) -> RunResult:
    """Train `config` into the run folder `out` (default: runs/<dataset>-<time>).

    `plotter(history, folder, epochs)` draws the curves (e.g. a `plots.CurvesWorker`);
    `should_stop()`, polled after every step like SIGINT, stops cleanly with a checkpoint."""
    started = time.perf_counter()
    config = config.validated()
    device = setup_device(config)
    dataset = dataset or load_dataset(config.dataset, config.data_dir)
    run_dir = prepare_run_dir(Path(out) if out else default_run_dir(config.dataset), overwrite)
    atomic_write_json(run_dir / CONFIG, describe_run(config, dataset, device))
    return _train(run_dir, config, dataset, device, None, callbacks, handle_signals, started,
                  plotter, should_stop)  # fmt: skip


def resume_run(
    run_dir: str | Path,
    *,
    callbacks: Sequence[object] = (),
    threads: int | None = None,
    device: str | None = None,
    handle_signals: bool = True,
    plotter=save_curves,
) -> RunResult:
    """Continue a run from its last checkpoint (or from the start if it has none yet)."""
    started = time.perf_counter()
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    overrides = {k: v for k, v in (("threads", threads), ("device", device)) if v is not None}
    config = config.replace(**overrides) if overrides else config
    dev = setup_device(config)
    dataset = load_dataset(config.dataset, config.data_dir)
    checkpoint = run_dir / CHECKPOINT
    return _train(
        run_dir, config, dataset, dev, checkpoint if checkpoint.exists() else None,
        callbacks, handle_signals, started, plotter, None,
    )  # fmt: skip


def _train(run_dir, config, dataset, device, checkpoint, callbacks, handle_signals, started,
           plotter, should_stop):  # fmt: skip
    init_gen = torch.Generator().manual_seed(config.seed * 2 + INIT_STREAM)
    shuffle_gen = torch.Generator().manual_seed(config.seed * 2 + SHUFFLE_STREAM)
    model = build_model(dataset.num_inputs, dataset.num_classes, config.init_std, init_gen)
    model.to(device)
    sgd = SGDParams(
        model.parameters(), lr=config.lr, momentum=config.momentum,
        weight_decay=config.weight_decay, nesterov=config.nesterov,
    )  # fmt: skip
    engine = make_engine(config.engine, model, sgd)
    position, history = Position(), []
    if checkpoint is not None:
        rng, meta = load_checkpoint(checkpoint, model, engine.optimizer)
        position, history = _position_from(meta, rng)
        if position.step == 0:
            shuffle_gen.set_state(rng)
    writer = RunWriter(run_dir, dataset, plotter)
    trainer = Trainer(
        model=model,
        engine=engine,
        train=InMemorySplit(dataset.train_images, dataset.train_labels, device),
        test=InMemorySplit(dataset.test_images, dataset.test_labels, device),
        epochs=config.epochs,
        batch_size=config.batch_size,
        generator=shuffle_gen,
        lr_at=config.lr_at,
        callbacks=[writer, *callbacks],
        history=history,
        position=position,
        num_classes=dataset.num_classes,
    )
    with stop_requests(handle_signals) as stop:
        trainer.should_stop = (
            stop.is_set if should_stop is None else lambda: stop.is_set() or should_stop()
        )
        try:
            trainer.run()
        except BaseException:
            writer.files.close(quiet=True)  # the last epoch's files land before the error shows
            raise
    writer.finish(trainer, config)
    return RunResult(run_dir, model, trainer.history, config, dataset,
                     time.perf_counter() - started)  # fmt: skip


class RunWriter:
    """Callback: checkpoint and metrics after every epoch (and on a clean stop), results at
    the end. Every file is written atomically; the per-epoch ones on a background thread, so
    that training does not wait for the disk (their bytes are a snapshot taken at the epoch's
    end)."""

    def __init__(self, run_dir: Path, dataset: Dataset, plotter=save_curves) -> None:
        self.run_dir = run_dir
        self.dataset = dataset
        self.plotter = plotter
        self.files = BackgroundWriter()

    def on_epoch_end(self, trainer: Trainer, record: EpochRecord) -> None:
        self.files.submit(self.run_dir / CHECKPOINT, self.checkpoint(trainer))
        for name, data in metrics_files(trainer.history).items():
            self.files.submit(self.run_dir / name, data)

    def on_stop(self, trainer: Trainer) -> None:
        self.files.wait()
        atomic_write_bytes(self.run_dir / CHECKPOINT, self.checkpoint(trainer))

    def checkpoint(self, trainer: Trainer) -> bytes:
        pos = trainer.position
        rng = pos.epoch_rng if pos.step else trainer.generator.get_state()
        meta = {
            "epoch": pos.epoch,
            "step": pos.step,
            "partial": {"loss_sum": pos.loss_sum, "correct": pos.correct,
                        "count": pos.count, "seconds": pos.seconds},  # fmt: skip
            "history": [r.as_dict() for r in trainer.history],
            "classes": list(self.dataset.classes),
            "image_shape": list(self.dataset.image_shape),
        }
        return checkpoint_bytes(trainer.model, trainer.optimizer, rng, meta)

    def finish(self, trainer: Trainer, config: TrainConfig) -> None:
        self.files.close()
        self.plotter(trainer.history, self.run_dir, config.epochs)
        final = trainer.history[-1].as_dict() if trainer.history else {}
        save_model(
            self.run_dir / MODEL,
            trainer.model,
            self.dataset.classes,
            self.dataset.image_shape,
            extra={"dataset": self.dataset.name, "config": config.as_dict(), "final": final},
        )


def _position_from(meta: dict, rng: torch.Tensor) -> tuple[Position, list[EpochRecord]]:
    history = [EpochRecord(**r) for r in meta.get("history", [])]
    partial = meta.get("partial", {})
    pos = Position(epoch=int(meta["epoch"]), step=int(meta["step"]), **partial)
    pos.epoch_rng = rng if pos.step else None
    return pos, history


def metrics_files(history: Sequence[EpochRecord]) -> dict[str, bytes]:
    """metrics.csv and metrics.json for `history`, as bytes."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for r in history:
        w.writerow([r.epoch, repr(r.train_loss), repr(r.train_acc), repr(r.test_acc),
                    f"{r.seconds:.4f}"])  # fmt: skip
    summary = {"epochs": [r.as_dict() for r in history], "final": history[-1].as_dict()}
    return {
        METRICS_CSV: buf.getvalue().encode(),
        METRICS_JSON: json_bytes(summary),
    }


def read_history(run_dir: str | Path) -> list[EpochRecord]:
    with open(Path(run_dir) / METRICS_CSV, newline="") as f:
        return [
            EpochRecord(int(r["epoch"]), float(r["train_loss"]), float(r["train_acc"]),
                        float(r["test_acc"]), float(r["seconds"]))  # fmt: skip
            for r in csv.DictReader(f)
        ]


def describe_run(config: TrainConfig, dataset: Dataset, device: torch.device) -> dict:
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
        "dataset": {
            "name": dataset.name,
            "classes": list(dataset.classes),
            "image_shape": list(dataset.image_shape),
            "found_in": str(dataset.location.folder) if dataset.location else None,
            "files": {
                f"{split}_{kind}": {"path": str(info.path), "verified": info.verified}
                for (split, kind), info in dataset.files.items()
            },
        },
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": sys.argv,
    }


def setup_device(config: TrainConfig) -> torch.device:
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available; use --device cpu")
    if config.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(config.device)


def default_run_dir(dataset: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{dataset}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def prepare_run_dir(path: Path, overwrite: bool) -> Path:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out {path}: exists and is not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()):
        is_run = (path / CONFIG).exists()
        if not overwrite:
            state = "a finished run" if (path / MODEL).exists() else "an unfinished run"
            raise ConfigError(
                f"--out {path}: already holds {state if is_run else 'other files'}; pass "
                f"--overwrite to replace it{', or --resume to continue it' if is_run else ''}, "
                "or choose another --out"
            )
        if not is_run:
            raise ConfigError(
                f"--out {path}: holds files that are not a softmaxreg run; choose another --out"
            )
        for name in RUN_FILES:
            (path / name).unlink(missing_ok=True)
        for extra in ("report.html", "confusion.svg", "confusion.png", "weights.png",
                      "predictions.png"):  # fmt: skip
            (path / extra).unlink(missing_ok=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def stop_requests(enabled: bool = True):
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
