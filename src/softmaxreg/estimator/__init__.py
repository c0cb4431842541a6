"""softmaxreg as a scikit-learn estimator: `SoftmaxRegression` (fit, predict, predict_proba,
decision_function, score; Pipeline and GridSearchCV like any classifier), trained on numpy
arrays by the fused step without PyTorch. Needs the `sklearn` extra (scikit-learn)."""

from .classifier import SoftmaxRegression

__all__ = ["SoftmaxRegression"]
