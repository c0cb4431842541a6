"""Chapter 3.7 of Dive into Deep Learning (the seed chapter), unchanged but for the import line.

Run: python examples/softmax_regression_concise.py   (prints where the figure was saved)
"""

import os

os.environ["KMP_DUPLICATE_LIB_OK"] = "True"
import torch  # noqa: E402
from torch import nn  # noqa: E402

from softmaxreg import d2l  # noqa: E402  - the book has: from d2l import torch as d2l

batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

# 1 initialise the model's parameters
net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def init_weights(m):
    if type(m) == nn.Linear:  # noqa: E721 - the book's code
        nn.init.normal_(m.weight, std=0.01)


net.apply(init_weights)

# 2 loss function
loss = nn.CrossEntropyLoss(reduction="none")

# 3 optimiser
trainer = torch.optim.SGD(net.parameters(), lr=0.1)

# 4 training
num_epochs = 10
d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
d2l.predict_ch3(net, test_iter)
