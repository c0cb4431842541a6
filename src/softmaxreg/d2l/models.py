"""The current edition's data and models of its linear chapters (d2l 1.0, chapters 3 and 4):
synthetic regression data, linear regression from scratch and concise, Fashion-MNIST as a
`DataModule`, the `Classifier` base class and softmax regression (section 4.5)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .fashion_mnist import ImageSplit, text_labels
from .figures import show_images
from .framework import DataModule, Module
from .utilities import HyperParameters


class SGD(HyperParameters):
    """Minibatch stochastic gradient descent written out (section 3.4); `step()` is meant to
    run under `torch.no_grad()`, as `Trainer.fit_epoch` does."""

    def __init__(self, params, lr: float) -> None:
        self.save_hyperparameters()

    def step(self) -> None:
        for param in self.params:
            param -= self.lr * param.grad

    def zero_grad(self) -> None:
        for param in self.params:
            if param.grad is not None:
                param.grad.zero_()


class SyntheticRegressionData(DataModule):
    """y = Xw + b + noise, X ~ N(0, 1): `num_train` rows for training, then `num_val`."""

    def __init__(self, w, b, noise: float = 0.01, num_train: int = 1000, num_val: int = 1000,
                 batch_size: int = 32) -> None:  # fmt: skip
        super().__init__()
        self.save_hyperparameters()
        n = num_train + num_val
        self.X = torch.randn(n, len(w))
        noise = torch.randn(n, 1) * noise
        self.y = torch.matmul(self.X, w.reshape((-1, 1))) + b + noise

    def get_dataloader(self, train: bool):
        rows = slice(0, self.num_train) if train else slice(self.num_train, None)
        return self.get_tensorloader((self.X, self.y), train, rows)


class LinearRegressionScratch(Module):
    """Linear regression with its parameters and loss written out (section 3.4)."""

    def __init__(self, num_inputs: int, lr: float, sigma: float = 0.01) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.w = torch.normal(0, sigma, (num_inputs, 1), requires_grad=True)
        self.b = torch.zeros(1, requires_grad=True)

    def forward(self, X):
        return torch.matmul(X, self.w) + self.b

    def loss(self, y_hat, y):
        return ((y_hat - y) ** 2 / 2).mean()

    def configure_optimizers(self):
        return SGD([self.w, self.b], self.lr)


class LinearRegression(Module):
    """Linear regression with PyTorch's layers, loss and optimizer (section 3.5)."""

    def __init__(self, lr: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.LazyLinear(1)
        self.net.weight.data.normal_(0, 0.01)
        self.net.bias.data.fill_(0)

    def forward(self, X):
        return self.net(X)

    def loss(self, y_hat, y):
        return nn.MSELoss()(y_hat, y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), self.lr)

    def get_w_b(self):
        return self.net.weight.data, self.net.bias.data


class FashionMNIST(DataModule):
    """Fashion-MNIST as the book's `DataModule` (section 4.2): `train` and `val` index like
    torchvision's data sets, the loaders give (X, y) batches equal to the book's, from memory."""

    def __init__(self, batch_size: int = 64, resize=(28, 28)) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train = ImageSplit(True, resize)
        self.val = ImageSplit(False, resize)

    def text_labels(self, indices) -> list[str]:
        """The book's text labels of class indices."""
        return text_labels(indices)

    def get_dataloader(self, train: bool):
        split = self.train if train else self.val
        return split.batches(self.batch_size, shuffle=train)

    def visualize(self, batch, nrows: int = 1, ncols: int = 8, labels=[]) -> None:  # noqa: B006
        """Show the first nrows × ncols images of a batch with their labels."""
        X, y = batch
        if not labels:
            labels = self.text_labels(y)
        show_images(X.squeeze(1), nrows, ncols, titles=labels)


class Classifier(Module):
    """Base class of classification models (section 4.3): validation plots loss and accuracy;
    the loss is cross-entropy on logits (section 4.5)."""

    def validation_step(self, batch) -> None:
        Y_hat = self(*batch[:-1])
        self.plot("loss", self.loss(Y_hat, batch[-1]), train=False)
        self.plot("acc", self.accuracy(Y_hat, batch[-1]), train=False)

    def accuracy(self, Y_hat, Y, averaged: bool = True):
        """Fraction of correct predictions (or, not averaged, 1.0/0.0 per example)."""
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        preds = Y_hat.argmax(axis=1).type(Y.dtype)
        compare = (preds == Y.reshape(-1)).type(torch.float32)
        return compare.mean() if averaged else compare

    def loss(self, Y_hat, Y, averaged: bool = True):
        Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
        Y = Y.reshape((-1,))
        return F.cross_entropy(Y_hat, Y, reduction="mean" if averaged else "none")


class SoftmaxRegression(Classifier):
    """Softmax regression with PyTorch's layers (section 4.5): flatten, then one linear layer
    whose input size is found from the first batch."""

    def __init__(self, num_outputs: int, lr: float) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_outputs))

    def forward(self, X):
        return self.net(X)
