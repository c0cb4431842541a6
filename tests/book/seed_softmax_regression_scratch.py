"""The book's 0.17 edition, section 3.6: softmax regression from scratch (its own softmax,
cross-entropy and net, d2l.sgd as the updater), trained with d2l.train_ch3, whose own checks
must pass, then d2l.predict_ch3."""

import torch
from d2l import torch as d2l

batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

num_inputs, num_outputs = 784, 10
W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
b = torch.zeros(num_outputs, requires_grad=True)


def softmax(X):
    X_exp = d2l.exp(X)
    partition = d2l.reduce_sum(X_exp, 1, keepdim=True)
    return X_exp / partition  # broadcast over each row


X_prob = softmax(d2l.normal(0, 1, (2, 5)))
assert torch.allclose(d2l.reduce_sum(X_prob, 1), torch.ones(2))


def net(X):
    return softmax(d2l.matmul(d2l.reshape(X, (-1, W.shape[0])), W) + b)


def cross_entropy(y_hat, y):
    return -d2l.log(y_hat[range(len(y_hat)), y])


y = d2l.tensor([0, 2])
y_hat = d2l.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
assert d2l.accuracy(y_hat, y) / len(y) == 0.5
assert d2l.evaluate_accuracy(net, test_iter) < 0.3  # untrained: near chance, one in ten
metric = d2l.Accumulator(2)
metric.add(1, 2.5)
metric.add(2, 0.5)
assert metric[0] == 3 and metric[1] == 3

lr = 0.1


def updater(batch_size):
    return d2l.sgd([W, b], lr, batch_size)


num_epochs = 10
d2l.train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, updater)
test_acc = d2l.evaluate_accuracy(net, test_iter)
print(f"test acc {test_acc:.4f}")
assert 0.78 <= test_acc <= 0.87
d2l.predict_ch3(net, test_iter)
