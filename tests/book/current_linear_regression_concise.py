"""The book's 1.0 edition, section 3.5: linear regression with PyTorch's layers as
d2l.LinearRegression, trained by d2l.Trainer."""

from d2l import torch as d2l
from torch import nn

model = d2l.LinearRegression(lr=0.03)
assert isinstance(model.net, nn.LazyLinear) and model.lr == 0.03
data = d2l.SyntheticRegressionData(w=d2l.tensor([2, -3.4]), b=4.2)
trainer = d2l.Trainer(max_epochs=3)
trainer.fit(model, data)

w, b = model.get_w_b()
print(f"error in estimating w: {data.w - d2l.reshape(w, data.w.shape)}")
print(f"error in estimating b: {data.b - b}")
assert w.shape == (1, 2) and b.shape == (1,)
assert (data.w - d2l.reshape(w, data.w.shape)).abs().max() < 0.05
assert (data.b - b).abs().max() < 0.05
