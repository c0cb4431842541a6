"""The current edition's training framework (d2l 1.0, sections 3.2 and 3.4): `Module` (a model
that knows its loss, its optimizer and how to plot itself), `DataModule` (where batches come
from) and `Trainer` (the loop that feeds one to the other), with the book's method names,
arguments and order of calls, so that the book's subclasses and `@add_to_class` methods fit.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils import data

from .board import ProgressBoard
from .utilities import HyperParameters


class Module(nn.Module, HyperParameters):
    """Base class of the book's models. Subclasses set `self.net` (or override `forward`),
    `loss` and, if not plain SGD with `self.lr`, `configure_optimizers`."""

    def __init__(self, plot_train_per_epoch: int = 2, plot_valid_per_epoch: int = 1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.board = ProgressBoard()

    def loss(self, y_hat, y):
        raise NotImplementedError

    def forward(self, X):
        assert hasattr(self, "net"), "Neural network is defined"
        return self.net(X)

    def plot(self, key: str, value, train: bool) -> None:
        """Add a point to the live figure: x in epochs; `plot_train_per_epoch` points per epoch
        for training (each the mean over its batches), `plot_valid_per_epoch` for validation."""
        assert hasattr(self, "trainer"), "Trainer is not inited"
        trainer = self.trainer
        self.board.xlabel = "epoch"
        if train:
            x = trainer.train_batch_idx / trainer.num_train_batches
            n = trainer.num_train_batches / self.plot_train_per_epoch
        else:
            x = trainer.epoch + 1
            n = trainer.num_val_batches / self.plot_valid_per_epoch
        y = value.detach().to("cpu").numpy() if torch.is_tensor(value) else value
        self.board.draw(x, y, ("train_" if train else "val_") + key, every_n=int(n))

    def training_step(self, batch):
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=True)
        return loss

    def validation_step(self, batch) -> None:
        loss = self.loss(self(*batch[:-1]), batch[-1])
        self.plot("loss", loss, train=False)

    def configure_optimizers(self):
        """Minibatch SGD over all parameters with the model's `lr` (section 4.3's default)."""
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def apply_init(self, inputs, init=None) -> None:
        """Run `inputs` through the model once (so lazy layers get their shapes), then apply
        `init` to the network's layers."""
        self.forward(*inputs)
        if init is not None:
            self.net.apply(init)


class DataModule(HyperParameters):
    """Base class of the book's data: subclasses define `get_dataloader(train)`."""

    def __init__(self, root: str = "../data", num_workers: int = 4) -> None:
        # `root` and `num_workers` are kept for the book's code that reads them; softmaxreg's
        # Fashion-MNIST is found like `softmaxreg data` finds it and needs no workers.
        self.save_hyperparameters()

    def get_dataloader(self, train: bool):
        raise NotImplementedError

    def train_dataloader(self):
        return self.get_dataloader(train=True)

    def val_dataloader(self):
        return self.get_dataloader(train=False)

    def get_tensorloader(self, tensors, train: bool, indices=slice(0, None)) -> data.DataLoader:
        """A DataLoader over the rows `indices` of `tensors`, shuffled when training."""
        tensors = tuple(a[indices] for a in tensors)
        dataset = data.TensorDataset(*tensors)
        return data.DataLoader(dataset, self.batch_size, shuffle=train)


class Trainer(HyperParameters):
    """Trains a `Module` on a `DataModule`: `fit(model, data)` runs `max_epochs` epochs of
    training steps, each followed by a pass over the validation data."""

    def __init__(self, max_epochs: int, num_gpus: int = 0, gradient_clip_val: float = 0) -> None:
        self.save_hyperparameters()
        count = min(num_gpus, torch.cuda.device_count())
        self.gpus = [torch.device(f"cuda:{i}") for i in range(count)]

    def prepare_data(self, data) -> None:
        self.train_dataloader = data.train_dataloader()
        self.val_dataloader = data.val_dataloader()
        self.num_train_batches = len(self.train_dataloader)
        self.num_val_batches = len(self.val_dataloader) if self.val_dataloader is not None else 0

    def prepare_model(self, model) -> None:
        model.trainer = self
        model.board.xlim = [0, self.max_epochs]
        if self.gpus:
            model.to(self.gpus[0])
        self.model = model

    def fit(self, model, data) -> None:
        self.prepare_data(data)
        self.prepare_model(model)
        self.optim = model.configure_optimizers()
        self.epoch = 0
        self.train_batch_idx = 0
        self.val_batch_idx = 0
        for epoch in range(self.max_epochs):
            self.epoch = epoch
            self.fit_epoch()
        board = getattr(model, "board", None)
        if board is not None and hasattr(board, "flush"):
            board.flush()  # the last points, which the throttled redraws may have skipped

    def prepare_batch(self, batch):
        if self.gpus:
            batch = [a.to(self.gpus[0]) for a in batch]
        return batch

    def fit_epoch(self) -> None:
        self.model.train()
        for batch in self.train_dataloader:
            loss = self.model.training_step(self.prepare_batch(batch))
            self.optim.zero_grad()
            with torch.no_grad():
                loss.backward()
                if self.gradient_clip_val > 0:
                    self.clip_gradients(self.gradient_clip_val, self.model)
                self.optim.step()
            self.train_batch_idx += 1
        if self.val_dataloader is None:
            return
        self.model.eval()
        for batch in self.val_dataloader:
            with torch.no_grad():
                self.model.validation_step(self.prepare_batch(batch))
            self.val_batch_idx += 1

    def clip_gradients(self, grad_clip_val: float, model) -> None:
        """Scale the gradients down so that their global norm is at most `grad_clip_val`."""
        params = [p for p in model.parameters() if p.requires_grad]
        norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
        if norm > grad_clip_val:
            for param in params:
                param.grad[:] *= grad_clip_val / norm
