"""The book's 0.17 edition, section 3.2: linear regression from scratch (synthetic data, a
shuffled minibatch generator, d2l.linreg, d2l.squared_loss, d2l.sgd), then the fitted
parameters against the true ones."""

import random

import torch
from d2l import torch as d2l

true_w = d2l.tensor([2, -3.4])
true_b = 4.2
features, labels = d2l.synthetic_data(true_w, true_b, 1000)
print("features:", features[0], "\nlabel:", labels[0])
assert features.shape == (1000, 2) and labels.shape == (1000, 1)

d2l.set_figsize()
d2l.plt.scatter(d2l.numpy(features[:, 1]), d2l.numpy(labels), 1)


def data_iter(batch_size, features, labels):
    indices = list(range(len(features)))
    random.shuffle(indices)  # read the examples in random order
    for i in range(0, len(features), batch_size):
        batch = d2l.tensor(indices[i : min(i + batch_size, len(features))])
        yield features[batch], labels[batch]


batch_size = 10
X, y = next(data_iter(batch_size, features, labels))
assert X.shape == (10, 2) and y.shape == (10, 1)

w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr, num_epochs = 0.03, 3
net, loss = d2l.linreg, d2l.squared_loss
for epoch in range(num_epochs):
    for X, y in data_iter(batch_size, features, labels):
        loss(net(X, w, b), y).sum().backward()
        d2l.sgd([w, b], lr, batch_size)
    with torch.no_grad():
        train_l = loss(net(features, w, b), labels)
        print(f"epoch {epoch + 1}, loss {float(train_l.mean()):f}")

w_error = true_w - d2l.reshape(w, true_w.shape)
b_error = true_b - b
print(f"error in estimating w: {w_error}")
print(f"error in estimating b: {b_error}")
# The book's run: errors of a few thousandths, the loss near the noise's (0.01² / 2).
assert w_error.abs().max() < 0.01 and b_error.abs().max() < 0.01
assert float(train_l.mean()) < 1e-3
