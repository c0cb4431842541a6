"""The book's 1.0 edition, section 4.5 (the seed's section there): softmax regression with
PyTorch's layers as a d2l.Classifier, trained by d2l.Trainer for the book's 10 epochs.
(`# %%` marks the cells of the notebook that the suite makes of it.)"""

# %%
from d2l import torch as d2l
from torch import nn


class SoftmaxRegression(d2l.Classifier):
    """The softmax regression model."""

    def __init__(self, num_outputs, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_outputs))

    def forward(self, X):
        return self.net(X)


# %%
data = d2l.FashionMNIST(batch_size=256)
model = SoftmaxRegression(num_outputs=10, lr=0.1)
trainer = d2l.Trainer(max_epochs=10)
trainer.fit(model, data)

# %%
# The book's figure: 2 points of training loss per epoch, 1 of validation loss and accuracy.
curves = model.board.data
assert [len(curves[k]) for k in ("train_loss", "val_loss", "val_acc")] == [20, 10, 10]
val_acc = float(curves["val_acc"][-1].y)
print(f"validation accuracy {val_acc:.4f}")
assert 0.80 <= val_acc <= 0.87
assert float(curves["train_loss"][-1].y) < 0.5
