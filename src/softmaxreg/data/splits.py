"""A validation split held out of the training set, drawn from the run's seed.

The rows are chosen like scikit-learn's `train_test_split` (a random permutation; the
validation part has ceil(fraction * n) rows), from a stream of their own, so that the split
never changes the initial weights or the shuffling. Both parts keep the data set's order. A
digest of the validation rows goes into the run's record, so that a resumed run can prove it
holds out the same examples.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from ..errors import ConfigError

VALIDATION_STREAM = 2  # the training side draws the weights from 0 and the shuffling from 1


def holdout_rows(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of a training set of `n` examples, each sorted."""
    held = math.ceil(fraction * n)  # at least one row for any fraction above 0
    if held >= n:
        raise ConfigError(
            f"{{name}} {fraction:g} of {n} training examples leaves none to train on; choose "
            "a smaller {name}",
            "val_fraction",
        )
    rng = np.random.default_rng([seed, VALIDATION_STREAM])
    order = rng.permutation(n)
    return np.sort(order[held:]), np.sort(order[:held])


def rows_digest(rows: np.ndarray) -> str:
    """sha256 of the row numbers (as little-endian int64), to recognise a split again."""
    return hashlib.sha256(np.asarray(rows, dtype="<i8").tobytes()).hexdigest()
