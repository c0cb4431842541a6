"""The book's 0.17 edition, section 3.5 (the image classification data set): the book's label
names, a grid of training images, how long one pass over the data takes, and resized batches.

(The section's first cells build torchvision's data sets by hand; d2l's functions are what the
rest of the book uses, and what this script runs.)"""

import torch
from d2l import torch as d2l

d2l.use_svg_display()

assert d2l.get_fashion_mnist_labels(range(10)) == [
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
]  # fmt: skip
assert d2l.get_dataloader_workers() == 4

train_iter, test_iter = d2l.load_data_fashion_mnist(18)
X, y = next(iter(train_iter))
d2l.show_images(X.reshape(18, 28, 28), 2, 9, titles=d2l.get_fashion_mnist_labels(y))

batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)
assert len(train_iter) == 235 and len(test_iter) == 40
timer = d2l.Timer()
seen = 0
for _X, y in train_iter:
    seen += len(y)
print(f"{timer.stop():.2f} sec")
assert seen == 60000

train_iter, test_iter = d2l.load_data_fashion_mnist(32, resize=64)
for X, y in train_iter:
    print(X.shape, X.dtype, y.shape, y.dtype)
    break
assert X.shape == (32, 1, 64, 64) and X.dtype == torch.float32
assert y.shape == (32,) and y.dtype == torch.int64
