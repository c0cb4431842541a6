"""The book's 1.0 edition, section 3.4: linear regression from scratch as a d2l.Module with
its own SGD, trained by d2l.Trainer; the fitted parameters against the true ones."""

import torch
from d2l import torch as d2l


class LinearRegressionScratch(d2l.Module):
    """The linear regression model implemented from scratch."""

    def __init__(self, num_inputs, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.w = d2l.normal(0, sigma, (num_inputs, 1), requires_grad=True)
        self.b = d2l.zeros(1, requires_grad=True)


@d2l.add_to_class(LinearRegressionScratch)
def forward(self, X):
    return d2l.matmul(X, self.w) + self.b


@d2l.add_to_class(LinearRegressionScratch)
def loss(self, y_hat, y):
    return d2l.reduce_mean((y_hat - y) ** 2 / 2)


class SGD(d2l.HyperParameters):
    """Minibatch stochastic gradient descent."""

    def __init__(self, params, lr):
        self.save_hyperparameters()

    def step(self):
        for param in self.params:
            param -= self.lr * param.grad

    def zero_grad(self):
        for param in self.params:
            if param.grad is not None:
                param.grad.zero_()


@d2l.add_to_class(LinearRegressionScratch)
def configure_optimizers(self):
    return SGD([self.w, self.b], self.lr)


model = LinearRegressionScratch(2, lr=0.03)
data = d2l.SyntheticRegressionData(w=d2l.tensor([2, -3.4]), b=4.2)
trainer = d2l.Trainer(max_epochs=3)
trainer.fit(model, data)

with torch.no_grad():
    w_error = data.w - d2l.reshape(model.w, data.w.shape)
    b_error = data.b - model.b
    print(f"error in estimating w: {w_error}")
    print(f"error in estimating b: {b_error}")
# The book's run ends with errors of 0.1 to 0.2: 3 epochs of 32 steps are not quite enough.
assert w_error.abs().max() < 0.4 and b_error.abs().max() < 0.4
assert (trainer.train_batch_idx, trainer.val_batch_idx) == (96, 96)
assert len(model.board.data["train_loss"]) == 6 and len(model.board.data["val_loss"]) == 3

# softmaxreg's own d2l.LinearRegressionScratch and d2l.SGD do the same.
model = d2l.LinearRegressionScratch(2, lr=0.03)
d2l.Trainer(max_epochs=3).fit(model, data)
assert isinstance(model.configure_optimizers(), d2l.SGD)
assert (data.w - model.w.detach().reshape(-1)).abs().max() < 0.4
