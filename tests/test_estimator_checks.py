"""scikit-learn's own battery of estimator checks (check_estimator), one test per check."""

from __future__ import annotations

import pytest

from helpers import IN_CI

if IN_CI:
    import sklearn  # noqa: F401 - under CI the sklearn extra must be installed
else:
    pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks

from softmaxreg.estimator import SoftmaxRegression

# What SGD cannot promise, as scikit-learn itself records for SGDClassifier: a weight of 2 is
# not the same as a repeated sample (the number and order of the steps differ).
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "sample_weight is not equivalent to removing/repeating samples."
    ),
}


@parametrize_with_checks(
    [SoftmaxRegression()], expected_failed_checks=lambda estimator: EXPECTED_FAILURES
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
