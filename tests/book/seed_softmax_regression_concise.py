"""The book's 0.17 edition, section 3.7 (the seed): softmax regression with PyTorch's layers,
trained with d2l.train_ch3, whose own checks must pass."""

import torch
from d2l import torch as d2l
from torch import nn

batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# PyTorch does not reshape the inputs: a Flatten layer comes first.
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.01)


net.apply(init_weights)
loss = nn.CrossEntropyLoss(reduction="none")
trainer = torch.optim.SGD(net.parameters(), lr=0.1)

num_epochs = 10
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
test_acc = d2l.evaluate_accuracy(net, test_iter)
print(f"test acc {test_acc:.4f}")
assert 0.78 <= test_acc <= 0.87
