"""`SoftmaxRegression`: softmax regression as a scikit-learn classifier, trained by minibatch
SGD on the fused step (compiled where it was built, numpy otherwise); no torch."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ..config import Param
from ..errors import ConfigError
from ..inference.classifier import softmax
from ..kernel import CompiledStep, load_step
from .sgd import SGDSettings, fit_sgd

# Each hyperparameter's constraint, checked when fit starts (scikit-learn's convention:
# __init__ only stores them). An error names the parameter: "max_iter must be a positive
# integer, got 0".
PARAMS = {
    "learning_rate_init": Param(
        "step size for inputs of unit mean squared norm", float, minimum=0, above_minimum=True
    ),
    "learning_rate": Param("schedule", str, choices=("constant", "cosine")),
    "batch_size": Param("examples per step", int, minimum=1),
    "max_iter": Param("epochs", int, minimum=1),
    "momentum": Param("SGD momentum", float, minimum=0, below=1),
    "nesterovs_momentum": Param("Nesterov momentum", bool),
    "alpha": Param("L2 penalty", float, minimum=0),
    "shuffle": Param("shuffle each epoch", bool),
    "tol": Param("stopping tolerance", float, minimum=0, optional=True),
    "n_iter_no_change": Param("epochs without improvement", int, minimum=1),
    "warm_start": Param("continue from the last fit", bool),
    "verbose": Param("print the loss per epoch", int, minimum=0),
}


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic (softmax) regression trained by minibatch SGD on the fused step.

    The model is logits = X @ coef_.T + intercept_ with probabilities softmax(logits); it
    minimises the mean (sample-weighted) cross-entropy plus ``alpha / 2 * ||coef_||^2``. Each
    step runs in softmaxreg's compiled kernel (one pass over each example: gather, score,
    log-sum-exp softmax, gradient), or in its numpy form where the package was installed
    without a C compiler. No PyTorch is imported. Any number of features and classes; labels
    may be integers, strings or any sortable values (``classes_`` holds them in sorted order).

    Feature scaling: at fit, the step multiplies every product by one factor that brings the
    rows' mean squared norm to 1 (so X is not copied for it). Pixels in [0, 1], raw 0..255
    values or standardised features thus all train with the same ``learning_rate_init``, and
    multiplying every feature by a constant changes nothing but ``coef_``. The features are
    not centred or scaled one by one: where they have different units or large offsets, put a
    ``StandardScaler`` in front (``make_pipeline(StandardScaler(), SoftmaxRegression())``), as
    for any SGD model. Training runs in float32 (X is converted once when it is not float32
    already, so pass float32 to save the copy); predictions are computed in float32 for
    float32 X and in float64 otherwise.

    The defaults reach about 0.84 test accuracy on Fashion-MNIST (pixels / 255, any seed);
    bench/estimator.py times them against scikit-learn's LogisticRegression.

    Parameters
    ----------
    learning_rate_init : float, default=10.0
        Initial step size, for inputs rescaled to unit mean squared norm (see above).
    learning_rate : {"cosine", "constant"}, default="cosine"
        "cosine" decays the step size at every step along half a cosine, from
        ``learning_rate_init`` over ``max_iter`` epochs down to 1/100 of it; "constant" keeps
        it. A decaying step lets SGD settle instead of ending wherever its noise left it.
    batch_size : int, default=256
        Examples per SGD step (clipped to the number of samples).
    max_iter : int, default=10
        Epochs (passes over the training data).
    momentum : float, default=0.9
        SGD momentum in [0, 1), torch.optim.SGD's rule (dampening 0).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (used when momentum > 0).
    alpha : float, default=0.0
        L2 penalty: ``alpha / 2 * ||coef_||^2`` is added to the mean loss (the intercept is
        not penalised).
    shuffle : bool, default=True
        Shuffle the samples before each epoch.
    tol : float or None, default=None
        With a number, training stops once the epoch's loss has failed to improve on the best
        so far by ``tol`` for ``n_iter_no_change`` epochs in a row (and a ConvergenceWarning
        says so when ``max_iter`` comes first); None runs all ``max_iter`` epochs.
    n_iter_no_change : int, default=5
        See ``tol``.
    random_state : int, RandomState instance or None, default=None
        Draws the order of the samples in each epoch. The weights start at zero, so a fixed
        ``random_state`` makes fitting fully deterministic.
    warm_start : bool, default=False
        Start from the previous fit's coefficients (same classes and features) instead of
        zeros; the step-size schedule and momentum start afresh.
    verbose : int, default=0
        Print the loss after each epoch.

    ``fit`` accepts ``sample_weight``: each example's loss and gradient are multiplied by its
    weight (weights are not normalised; they must be non-negative). As with scikit-learn's
    SGDClassifier, a weight of 2 is not exactly the same as repeating a sample, since SGD's
    path depends on the order and number of the steps.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (n_classes, n_features), float64
    intercept_ : ndarray of shape (n_classes,), float64
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has feature names that are all strings (a pandas DataFrame).
    n_iter_ : int
        Epochs run by the last fit.
    loss_curve_ : list of float
        The training loss of each epoch (mean over its steps, taken before each update, plus
        the penalty).
    loss_ : float
        The last epoch's loss.
    compiled_step_ : bool
        Whether the compiled kernel ran (False: its numpy form).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from softmaxreg import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = make_pipeline(StandardScaler(), SoftmaxRegression(random_state=0))
    >>> clf.fit(X_train, y_train).score(X_test, y_test)
    0.9736842105263158
    """

    def __init__(
        self,
        *,
        learning_rate_init: float = 10.0,
        learning_rate: str = "cosine",
        batch_size: int = 256,
        max_iter: int = 10,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        alpha: float = 0.0,
        shuffle: bool = True,
        tol: float | None = None,
        n_iter_no_change: int = 5,
        random_state: Any = None,
        warm_start: bool = False,
        verbose: int = 0,
    ) -> None:
        self.learning_rate_init = learning_rate_init
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.alpha = alpha
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None) -> SoftmaxRegression:
        """Train on X (n_samples, n_features) and labels y (n_samples,); returns self."""
        settings = self._checked_settings()
        X, y = validate_data(self, X, y, dtype=np.float32, order="C", reset=not self._warm())
        check_classification_targets(y)
        classes = unique_labels(y)
        if len(classes) < 2:
            raise ConfigError(
                f"SoftmaxRegression needs samples of at least 2 classes in y, got one class: "
                f"{classes.tolist()[0]!r}"
            )
        labels = np.searchsorted(classes, y).astype(np.int64)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float32, ensure_non_negative=True
            )
        scale = _unit_norm_scale(X)
        weight, bias = self._start(classes, X.shape[1], scale)
        step = load_step()
        # The numpy form multiplies a batch by a few classes' weights: matrices so small that
        # BLAS's threads cost more than they bring, and many times more on a busy machine
        # (bench/estimator.py, row (c)). The compiled step uses no BLAS.
        with threadpool_limits(limits=1, user_api="blas"):
            result = fit_sgd(
                step,
                X,
                labels,
                sample_weight,
                weight,
                bias,
                scale,
                settings,
                check_random_state(self.random_state),
                self._report if self.verbose else None,
            )
        if settings.tol is not None and not result.stopped_early:
            warnings.warn(
                f"SoftmaxRegression: the loss still improved by more than tol={settings.tol:g} "
                f"within the last {settings.n_iter_no_change} epochs when max_iter="
                f"{settings.max_iter} was reached; raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.classes_ = classes
        self.coef_ = weight.astype(np.float64) * scale
        self.intercept_ = bias.astype(np.float64)
        self.n_iter_ = result.n_iter
        self.loss_curve_ = result.loss_curve
        self.loss_ = result.loss_curve[-1]
        self.compiled_step_ = isinstance(step, CompiledStep)
        return self

    def decision_function(self, X) -> np.ndarray:
        """The logits, (n_samples, n_classes); for two classes, as scikit-learn's binary
        classifiers do, one score per sample: positive means classes_[1]."""
        logits = self._logits(X)
        if len(self.classes_) == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, (n_samples, n_classes), columns in the order of classes_."""
        return softmax(self._logits(X))

    def predict_log_proba(self, X) -> np.ndarray:
        """log of predict_proba, from the log-sum-exp (finite where a probability rounds to 0)."""
        z = self._logits(X)
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sample (a label from classes_)."""
        best = np.argmax(self._logits(X), axis=1)  # checks that fit ran first
        return self.classes_[best]

    def _logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        # float32 stays float32 (no copy of a large X, as scikit-learn's linear models do);
        # anything else is computed in float64.
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        coef = self.coef_.astype(X.dtype, copy=False)
        # W X^T rather than X W^T: with a few classes BLAS runs this layout about twice as fast.
        return (coef @ X.T).T + self.intercept_.astype(X.dtype, copy=False)

    def _checked_settings(self) -> SGDSettings:
        values = {name: _plain(getattr(self, name)) for name in PARAMS}
        if isinstance(values["verbose"], bool):
            values["verbose"] = int(values["verbose"])
        for name, param in PARAMS.items():
            param.check(name, values[name])
        del values["warm_start"], values["verbose"]
        return SGDSettings(**values)

    def _warm(self) -> bool:
        return bool(self.warm_start) and hasattr(self, "coef_")

    def _start(
        self, classes: np.ndarray, features: int, scale: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """The weights in the step's units (coef_ / scale) and the bias: zeros, or the last
        fit's with warm_start."""
        if not self._warm():
            return (
                np.zeros((len(classes), features), np.float32),
                np.zeros(len(classes), np.float32),
            )
        if not np.array_equal(classes, self.classes_):
            raise ConfigError(
                f"warm_start: y holds the classes {classes.tolist()}, the last fit had "
                f"{self.classes_.tolist()}; fit with warm_start=False to start afresh"
            )
        weight = np.ascontiguousarray(self.coef_ / scale, dtype=np.float32)
        return weight, self.intercept_.astype(np.float32)

    def _report(self, epoch: int, loss: float) -> None:
        print(f"Epoch {epoch}, loss = {loss:.8f}")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _unit_norm_scale(X: np.ndarray) -> float:
    """The factor that brings the rows' mean squared norm to 1 (1 for all-zero X)."""
    # Each row's squared norm in float32 (one pass over X, no copy), their mean in float64;
    # features so large that a square overflows float32 are measured in float64 instead.
    squares = np.einsum("ij,ij->i", X, X)
    if not np.isfinite(squares).all():
        squares = np.einsum("ij,ij->i", X, X, dtype=np.float64)
    mean_square = float(squares.sum(dtype=np.float64)) / max(len(X), 1)
    return 1.0 / math.sqrt(mean_square) if mean_square > 0 else 1.0


def _plain(value: Any) -> Any:
    """numpy scalars (a grid from np.arange, say) as the Python numbers they stand for."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value
