"""The book's 1.0 edition, section 3.3 (synthetic regression data): a DataModule written
in the book's way, its loader first as a generator, then as d2l's tensor loader."""

import random

import torch
from d2l import torch as d2l


class SyntheticRegressionData(d2l.DataModule):
    """Synthetic data for linear regression."""

    def __init__(self, w, b, noise=0.01, num_train=1000, num_val=1000, batch_size=32):
        super().__init__()
        self.save_hyperparameters()
        n = num_train + num_val
        self.X = d2l.randn(n, len(w))
        noise = d2l.randn(n, 1) * noise
        self.y = d2l.matmul(self.X, d2l.reshape(w, (-1, 1))) + b + noise


data = SyntheticRegressionData(w=d2l.tensor([2, -3.4]), b=4.2)
print("features:", data.X[0], "\nlabel:", data.y[0])
assert data.X.shape == (2000, 2) and data.y.shape == (2000, 1)
assert data.root == "../data" and data.num_workers == 4  # the base class's hyperparameters


@d2l.add_to_class(SyntheticRegressionData)
def get_dataloader(self, train):
    if train:
        indices = list(range(0, self.num_train))
        random.shuffle(indices)  # the examples are read in random order
    else:
        indices = list(range(self.num_train, self.num_train + self.num_val))
    for i in range(0, len(indices), self.batch_size):
        batch_indices = d2l.tensor(indices[i : i + self.batch_size])
        yield self.X[batch_indices], self.y[batch_indices]


X, y = next(iter(data.train_dataloader()))
print("X shape:", X.shape, "\ny shape:", y.shape)
assert X.shape == (32, 2) and y.shape == (32, 1)


@d2l.add_to_class(SyntheticRegressionData)
def get_dataloader(self, train):  # noqa: F811 - the book replaces the method
    i = slice(0, self.num_train) if train else slice(self.num_train, None)
    return self.get_tensorloader((self.X, self.y), train, i)


X, y = next(iter(data.train_dataloader()))
assert X.shape == (32, 2) and y.shape == (32, 1)
assert len(data.train_dataloader()) == 32 and len(data.val_dataloader()) == 32
val_X, _ = next(iter(data.val_dataloader()))
assert torch.equal(val_X, data.X[1000:1032])  # validation data in order

ours = d2l.SyntheticRegressionData(w=d2l.tensor([2, -3.4]), b=4.2)
assert len(ours.train_dataloader()) == 32 and ours.batch_size == 32
