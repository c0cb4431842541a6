"""A trained model with the scikit-learn verbs: predict, predict_proba, score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import load_model
from .errors import ConfigError
from .softmax import stable_softmax


class Classifier:
    def __init__(
        self,
        model: nn.Module,
        classes: tuple[str, ...],
        image_shape: tuple[int, ...],
        meta: dict | None = None,
        path: Path | None = None,
    ) -> None:
        self.model = model.eval()
        self.classes = tuple(classes)
        self.image_shape = tuple(image_shape)
        self.meta = meta or {}
        self.path = path

    @classmethod
    def load(cls, run_or_model: str | Path, device: str = "cpu") -> Classifier:
        loaded = load_model(run_or_model, device=device)
        return cls(loaded.model, loaded.classes, loaded.image_shape, loaded.meta, loaded.path)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _inputs(self, X) -> torch.Tensor:
        """(n, h, w), (n, 1, h, w), (n, h*w) or one (h, w) image; uint8 pixels are scaled
        by 1/255, float pixels are taken as already in [0, 1]."""
        t = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
        pixels = int(np.prod(self.image_shape))
        if t.shape == self.image_shape:
            t = t.unsqueeze(0)
        if t.dim() < 2 or t[0].numel() != pixels:
            raise ConfigError(
                f"X: expected images of shape {self.image_shape} (or {pixels} values each), "
                f"got an array of shape {tuple(t.shape)}"
            )
        t = t.reshape(len(t), pixels)
        if t.dtype == torch.uint8:
            return t.to(self.device, torch.float32).div_(255)
        if len(t) and (t.min() < 0 or t.max() > 1):
            raise ConfigError(
                f"X: float pixels must lie in [0, 1] (found {float(t.min()):g} to "
                f"{float(t.max()):g}); divide 0-255 pixels by 255 or pass them as uint8"
            )
        return t.to(self.device, torch.float32)

    @torch.no_grad()
    def decision_function(self, X) -> np.ndarray:
        return self.model(self._inputs(X)).cpu().numpy()

    @torch.no_grad()
    def predict_proba(self, X) -> np.ndarray:
        return stable_softmax(self.model(self._inputs(X))).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        return self.decision_function(X).argmax(axis=1)

    def predict_labels(self, X) -> list[str]:
        return [self.classes[i] for i in self.predict(X)]

    def score(self, X, y) -> float:
        """Mean accuracy on (X, y), as in scikit-learn."""
        predicted, y = self.predict(X), np.asarray(y)
        if y.shape != predicted.shape:
            raise ConfigError(f"y: {len(y)} labels for {len(predicted)} images")
        return float((predicted == y).mean())
