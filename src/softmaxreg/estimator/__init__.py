"""softmaxreg as a scikit-learn estimator: `SoftmaxRegression` (fit, predict, predict_proba,
decision_function, score; Pipeline and GridSearchCV like any classifier), trained on numpy
arrays by the fused step without PyTorch. Needs the `sklearn` extra (scikit-learn)."""

try:
    from .classifier import SoftmaxRegression
except ModuleNotFoundError as missing:
    if (missing.name or "").partition(".")[0] != "sklearn":
        raise
    raise ModuleNotFoundError(
        "softmaxreg.SoftmaxRegression needs scikit-learn, which is not installed: "
        "pip install 'softmaxreg[sklearn]'",
        name=missing.name,
    ) from None

__all__ = ["SoftmaxRegression"]
