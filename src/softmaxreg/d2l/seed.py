"""The seed's edition of the book (d2l 0.17, chapter 3 "Linear Neural Networks"): every name
that chapter saves into `d2l.torch`, with the book's signatures, values and checks, plus
`evaluate_loss` (section 4.4), which the same readers reach next.

Fashion-MNIST comes from memory (see fashion_mnist.py); everything else is plain PyTorch, so a
seeded program computes what it computes with the book's package.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.utils import data

from .fashion_mnist import load_splits, text_labels
from .figures import Animator, show_images


class Timer:
    """Records several running times."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        self.tik = time.time()

    def stop(self) -> float:
        """Stop the clock, record the time since `start()` and return it."""
        self.times.append(time.time() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        return sum(self.times)

    def cumsum(self) -> list[float]:
        return np.array(self.times).cumsum().tolist()


def synthetic_data(w: torch.Tensor, b, num_examples: int):
    """Features X ~ N(0, 1) and labels y = Xw + b + noise (std 0.01), y shaped (n, 1)."""
    X = torch.normal(0, 1, (num_examples, len(w)))
    y = torch.matmul(X, w) + b
    y += torch.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def linreg(X, w, b):
    """The linear regression model: Xw + b."""
    return torch.matmul(X, w) + b


def squared_loss(y_hat, y):
    """Half the squared error, per example (y reshaped like y_hat)."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params, lr: float, batch_size: int) -> None:
    """One minibatch SGD step on `params` from gradients summed over the batch; the gradients
    are reset afterwards."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def load_array(data_arrays, batch_size: int, is_train: bool = True) -> data.DataLoader:
    """A PyTorch data iterator over tensors, shuffled when `is_train`."""
    dataset = data.TensorDataset(*data_arrays)
    return data.DataLoader(dataset, batch_size, shuffle=is_train)


def get_fashion_mnist_labels(labels) -> list[str]:
    """The book's text labels of Fashion-MNIST class indices ('t-shirt', ..., 'ankle boot')."""
    return text_labels(labels)


def get_dataloader_workers() -> int:
    """The book's number of data-loading processes. softmaxreg's iterators need none: batches
    are sliced from memory in the training process itself."""
    return 4


def load_data_fashion_mnist(batch_size: int, resize=None):
    """(train_iter, test_iter) over Fashion-MNIST, found or fetched like `softmaxreg data`;
    the training iterator is reshuffled on every pass."""
    train, test = load_splits(resize)
    return train.batches(batch_size, shuffle=True), test.batches(batch_size, shuffle=False)


class Accumulator:
    """Sums over n variables."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args) -> None:
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=False)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(y_hat, y) -> float:
    """Number of correct predictions (y_hat: scores per class, or predicted classes)."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy(net, data_iter) -> float:
    """Accuracy of a model on a data set."""
    if isinstance(net, nn.Module):
        net.eval()
    metric = Accumulator(2)  # correct predictions, predictions
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def train_epoch_ch3(net, train_iter, loss, updater):
    """One training epoch (chapter 3); returns (train loss, train accuracy). `updater` is a
    torch optimizer (the loss is averaged) or a function of the batch size (summed)."""
    if isinstance(net, nn.Module):
        net.train()
    metric = Accumulator(3)  # loss sum, correct predictions, examples
    for X, y in train_iter:
        y_hat = net(X)
        losses = loss(y_hat, y)
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            losses.mean().backward()
            updater.step()
        else:
            losses.sum().backward()
            updater(X.shape[0])
        metric.add(float(losses.sum().detach()), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]


def train_ch3(net, train_iter, test_iter, loss, num_epochs: int, updater) -> None:
    """Train a model (chapter 3), drawing the book's figure; fails with the book's own
    checks (train loss < 0.5, accuracies in (0.7, 1]) when training went wrong."""
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                        legend=["train loss", "train acc", "test acc"])  # fmt: skip
    for epoch in range(num_epochs):
        train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
        test_acc = evaluate_accuracy(net, test_iter)
        animator.add(epoch + 1, train_metrics + (test_acc,))
    train_loss, train_acc = train_metrics
    assert train_loss < 0.5, train_loss
    assert train_acc <= 1 and train_acc > 0.7, train_acc
    assert test_acc <= 1 and test_acc > 0.7, test_acc


def predict_ch3(net, test_iter, n: int = 6) -> None:
    """Show the first n test images with their true and predicted labels."""
    X, y = next(iter(test_iter))
    trues = get_fashion_mnist_labels(y)
    preds = get_fashion_mnist_labels(net(X).argmax(axis=1))
    titles = [true + "\n" + pred for true, pred in zip(trues, preds, strict=False)]
    show_images(X[0:n].reshape((n, *X.shape[2:])), 1, n, titles=titles[0:n])


def evaluate_loss(net, data_iter, loss) -> float:
    """Mean loss of a model over a data set (section 4.4)."""
    metric = Accumulator(2)  # loss sum, number of losses
    for X, y in data_iter:
        out = net(X)
        y = y.reshape(out.shape)
        losses = loss(out, y)
        metric.add(losses.sum(), losses.numel())
    return metric[0] / metric[1]
