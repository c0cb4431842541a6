"""A training run's settings as plain values, validated in one place.

Recipes are named sets of defaults: `seed` is the book's chapter 3.7 (batch 256, SGD lr 0.1,
10 epochs, weights N(0, 0.01^2)); `tuned` is still softmax regression (one linear layer on raw
pixels) trained with what helps: larger batches, Nesterov momentum, a cosine-decaying learning
rate and more epochs (weight decay, tried at 3e-5 to 3e-4, only cost accuracy here). Explicit
settings override the recipe.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from .errors import ConfigError

RECIPES: dict[str, dict] = {
    "seed": {},
    "tuned": {
        "epochs": 16,
        "batch_size": 512,
        "lr": 0.2,
        "momentum": 0.9,
        "nesterov": True,
        "schedule": "cosine",
    },
}
SCHEDULES = ("constant", "cosine")
DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("auto", "fused", "autograd")  # engines.py builds them; named here without torch


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    recipe: str = "seed"
    epochs: int = 10
    batch_size: int = 256
    lr: float = 0.1
    init_std: float = 0.01
    seed: int = 0
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    engine: str = "auto"
    device: str = "auto"
    threads: int | None = None

    @classmethod
    def from_recipe(cls, recipe: str = "seed", **overrides) -> TrainConfig:
        """The recipe's settings, then every override that is not None."""
        if recipe not in RECIPES:
            raise ConfigError(
                f"--recipe: unknown recipe {recipe!r}; choose one of: {', '.join(RECIPES)}"
            )
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
        return cls(recipe=recipe, **values).validated()

    def validated(self) -> TrainConfig:
        positive_int("--epochs", self.epochs)
        positive_int("--batch-size", self.batch_size)
        _positive_float("--lr", self.lr)
        _positive_float("--init-std", self.init_std, allow_zero=True)
        _nonnegative_float("--momentum", self.momentum)
        _nonnegative_float("--weight-decay", self.weight_decay)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed!r}")
        if self.momentum >= 1:
            raise ConfigError(f"--momentum must be below 1, got {self.momentum!r}")
        if self.nesterov and not self.momentum:
            raise ConfigError("--nesterov needs a positive --momentum")
        if self.schedule not in SCHEDULES:
            raise ConfigError(
                f"--schedule: unknown schedule {self.schedule!r}; choose {' or '.join(SCHEDULES)}"
            )
        if self.device not in DEVICES:
            raise ConfigError(
                f"--device: unknown device {self.device!r}; choose one of {', '.join(DEVICES)}"
            )
        if self.threads is not None:
            positive_int("--threads", self.threads)
        from .data.sources import get_spec

        get_spec(self.dataset)
        if self.engine not in ENGINES:
            raise ConfigError(
                f"--engine: unknown engine {self.engine!r}; choose one of {', '.join(ENGINES)}"
            )
        return self

    def lr_at(self, epoch: int) -> float:
        """Learning rate for 0-based `epoch`: constant, or cosine from lr down to lr/100."""
        if self.schedule == "constant":
            return self.lr
        floor = self.lr / 100
        return floor + 0.5 * (self.lr - floor) * (1 + math.cos(math.pi * epoch / self.epochs))

    def as_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> TrainConfig:
        return replace(self, **changes).validated()


def positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def _positive_float(name: str, value, allow_zero: bool = False) -> None:
    ok = isinstance(value, int | float) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ConfigError(f"{name} must be {kind} finite number, got {value!r}")


def _nonnegative_float(name: str, value) -> None:
    _positive_float(name, value, allow_zero=True)


CONFIG = "config.json"  # a run folder's record of its settings, written first


def read_run_config(run_dir: str | Path) -> TrainConfig:
    """The settings of the run in `run_dir`, from its config.json (torch not needed)."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    if not run_dir.is_dir():
        raise ConfigError(f"--resume {run_dir}: no such run folder")
    try:
        record = json.loads(path.read_text())
        settings = record["config"]
        known = {f.name for f in fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in settings.items() if k in known}).validated()
    except FileNotFoundError:
        raise ConfigError(
            f"{run_dir}: not a softmaxreg run (no {CONFIG}); pass a folder made by "
            "`softmaxreg train`"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: unreadable run configuration ({exc})") from None
