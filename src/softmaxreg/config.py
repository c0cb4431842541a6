"""A training run's settings as plain values, each declared once with its constraints.

Every field of `TrainConfig` carries a `Param`: its type, its bounds or choices and a line of
help. Validation reads them (as scikit-learn's `_parameter_constraints` do), the command line
builds its flags from them, and an error names the parameter the way the caller wrote it:
``epochs must be a positive integer`` from Python, ``--epochs must be ...`` from the CLI.

Recipes are named sets of defaults: `book` is chapter 3.7's (batch 256, SGD lr 0.1, 10 epochs,
weights N(0, 0.01^2)); `tuned` is still softmax regression (one linear layer on raw pixels)
trained with what helps: larger batches, Nesterov momentum, a cosine-decaying learning rate and
more epochs (weight decay only cost accuracy here). Settings given explicitly override the
recipe's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .data.sources import DATASETS
from .errors import ConfigError

RECIPES: dict[str, dict[str, Any]] = {
    "book": {},
    "tuned": {
        "epochs": 16,
        "batch_size": 512,
        "lr": 0.2,
        "momentum": 0.9,
        "nesterov": True,
        "schedule": "cosine",
    },
}
# Run folders written before the recipe was renamed say "seed" (which read like --seed).
RECIPE_ALIASES = {"seed": "book"}
SCHEDULES = ("constant", "cosine")
DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("auto", "fused", "autograd")  # training/engines.py builds them
SHUFFLES = ("auto", "global", "block")  # training/shuffle.py decides and builds them


@dataclass(frozen=True)
class Param:
    """What one setting may hold, and a line of help for people."""

    help: str
    type: type
    minimum: float | None = None
    above_minimum: bool = False  # the minimum itself is excluded
    below: float | None = None  # an exclusive maximum
    choices: tuple[str, ...] = ()
    optional: bool = False  # None is allowed (and means "the default")
    runtime: bool = False  # how to run, not what to train: may change on --resume

    def check(self, name: str, value: Any) -> None:
        if value is None and self.optional:
            return
        if self.choices:
            if value not in self.choices:
                raise ConfigError(
                    f"{{name}}: unknown {name.replace('_', ' ')} {value!r}; choose one of: "
                    f"{', '.join(self.choices)}",
                    name,
                )
            return
        if not self._has_type(value) or not self._in_range(value):
            raise ConfigError(f"{{name}} must be {self.describe()}, got {value!r}", name)

    def _has_type(self, value: Any) -> bool:
        if isinstance(value, bool):
            return self.type is bool
        if self.type is float:
            return isinstance(value, int | float) and math.isfinite(value)
        return isinstance(value, self.type)

    def _in_range(self, value: Any) -> bool:
        if self.minimum is not None:
            if value < self.minimum or (self.above_minimum and value == self.minimum):
                return False
        return self.below is None or value < self.below

    def describe(self) -> str:
        """The constraint in words: 'a positive integer', 'a number in [0, 1)', ..."""
        if self.type is bool:
            return "true or false"
        noun = {int: "integer", float: "finite number", str: "text"}[self.type]
        if self.below is not None:
            return f"a number in [{self.minimum:g}, {self.below:g})"
        if self.minimum == 0:
            return f"a positive {noun}" if self.above_minimum else f"a non-negative {noun}"
        if self.minimum == 1 and self.type is int:
            return "a positive integer"
        return f"a {noun}"


def setting(default: Any, param: Param) -> Any:
    return field(default=default, metadata={"param": param})


def _positive(help: str, type: type = int, **more: Any) -> Param:
    if type is int:
        return Param(help, int, minimum=1, **more)
    return Param(help, type, minimum=0, above_minimum=True, **more)


@dataclass(frozen=True, init=False)
class TrainConfig:
    """The settings of one training run. ``TrainConfig(recipe="tuned", epochs=3)`` is the
    tuned recipe with 3 epochs; every value is checked when the object is made."""

    dataset: str = setting(
        "fashion-mnist",
        Param(
            "fashion-mnist, mnist, or idx (your own files in --data-dir)",
            str,
            choices=tuple(DATASETS),
        ),
    )
    data_dir: str | None = setting(
        None, Param("folder holding the four IDX files (or $SOFTMAXREG_DATA)", str, optional=True)
    )
    recipe: str = setting(
        "book", Param("named settings: book (chapter 3.7's) or tuned", str, choices=tuple(RECIPES))
    )
    epochs: int = setting(10, _positive("passes over the training set"))
    batch_size: int = setting(
        256, _positive("examples per SGD step (all processes together under torchrun)")
    )
    lr: float = setting(0.1, _positive("learning rate", float))
    init_std: float = setting(0.01, Param("std of the initial weights", float, minimum=0))
    seed: int = setting(0, Param("seed for initialisation and shuffling", int, minimum=0))
    shuffle: str = setting(
        "auto",
        Param(
            "global (one permutation per epoch, the book's), block (blocks of rows read in "
            "order and mixed in a buffer, for sets beyond memory) or auto (global when the "
            "training images fit in half the memory at hand)",
            str,
            choices=SHUFFLES,
        ),
    )
    momentum: float = setting(0.0, Param("SGD momentum", float, minimum=0, below=1))
    nesterov: bool = setting(False, Param("Nesterov momentum (needs --momentum)", bool))
    weight_decay: float = setting(0.0, Param("L2 penalty", float, minimum=0))
    schedule: str = setting(
        "constant", Param("learning-rate schedule: constant or cosine", str, choices=SCHEDULES)
    )
    val_fraction: float = setting(
        0.0,
        Param(
            "fraction of the training set held out as a validation split, drawn from --seed "
            "(the test set stays untouched)",
            float,
            minimum=0,
            below=1,
        ),
    )
    early_stop: int | None = setting(
        None,
        _positive(
            "stop once the validation loss has not improved for N epochs and keep the best "
            "epoch's weights (needs --val-fraction)",
            optional=True,
        ),
    )
    engine: str = setting(
        "auto",
        Param(
            "auto (fused where it applies), fused or autograd", str, choices=ENGINES, runtime=True
        ),
    )
    device: str = setting(
        "auto", Param("auto (CUDA when present), cpu or cuda", str, choices=DEVICES, runtime=True)
    )
    threads: int | None = setting(
        None,
        _positive(
            "CPU threads for torch (default: torch's, 1 per process under torchrun); the compiled "
            "step uses one",
            optional=True,
            runtime=True,
        ),
    )

    def __init__(self, recipe: str = "book", **settings: Any) -> None:
        recipe = RECIPE_ALIASES.get(recipe, recipe)
        PARAMS["recipe"].check("recipe", recipe)
        unknown = sorted(set(settings) - set(PARAMS))
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(PARAMS)}",
                unknown[0],
            )
        given = {k: v for k, v in settings.items() if v is not None}
        values = {**DEFAULTS, **RECIPES[recipe], **given, "recipe": recipe}
        for name, value in values.items():
            PARAMS[name].check(name, value)
            object.__setattr__(self, name, value)
        if self.nesterov and not self.momentum:
            raise ConfigError("{name} needs a positive momentum", "nesterov")
        if self.early_stop and not self.val_fraction:
            raise ConfigError(
                "{name} watches the validation loss, so it needs a validation split: add "
                "{val_fraction} (e.g. 0.1)",
                "early_stop",
                others=("val_fraction",),
            )

    @classmethod
    def from_recipe(cls, recipe: str = "book", **overrides: Any) -> TrainConfig:
        """The recipe's settings, then every override that is not None."""
        return cls(recipe, **overrides)

    def lr_at(self, epoch: int) -> float:
        """Learning rate for 0-based `epoch`: constant, or cosine from lr down to lr/100."""
        if self.schedule == "constant":
            return self.lr
        return cosine_lr(self.lr, epoch, self.epochs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)


PARAMS: dict[str, Param] = {f.name: f.metadata["param"] for f in fields(TrainConfig)}
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(TrainConfig)}
RUNTIME = tuple(name for name, p in PARAMS.items() if p.runtime)  # how to run, not what


def cosine_lr(lr: float, t: int, total: int) -> float:
    """The cosine schedule at `t` of `total` (epochs for a run, steps for the estimator): from
    `lr` at t = 0 down towards lr/100 at t = total."""
    floor = lr / 100
    return floor + 0.5 * (lr - floor) * (1 + math.cos(math.pi * t / total))


def format_setting(value: Any, exact: bool = False) -> str:
    """A setting's value as text: none, true, 0.1. `exact` keeps every digit of a number (a
    sweep's run names must never collide: 0.30000000000000004 is not 0.3) and writes a whole
    number without its '.0' (lr=1); otherwise numbers are short, for people (1e-05)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value).removesuffix(".0") if exact else f"{value:g}"
    return str(value)


def positive_int(name: str, value: Any) -> None:
    """Check a command's own integer argument (not a training setting) the same way."""
    Param("", int, minimum=1).check(name, value)
