"""The book's 1.0 edition, section 4.2 (the image classification data set): d2l.FashionMNIST,
its sizes, labels, batches and d2l's picture of a batch."""

import time

import torch
from d2l import torch as d2l

d2l.use_svg_display()

data = d2l.FashionMNIST(resize=(32, 32))
print(len(data.train), len(data.val))
assert (len(data.train), len(data.val)) == (60000, 10000)
assert data.train[0][0].shape == (1, 32, 32) and data.batch_size == 64
assert data.text_labels([0, 9]) == ["t-shirt", "ankle boot"]

X, y = next(iter(data.train_dataloader()))
print(X.shape, X.dtype, y.shape, y.dtype)
assert X.shape == (64, 1, 32, 32) and X.dtype == torch.float32
assert y.shape == (64,) and y.dtype == torch.int64

tic = time.time()
for _batch in data.train_dataloader():
    continue
print(f"{time.time() - tic:.2f} sec")

batch = next(iter(data.val_dataloader()))
data.visualize(batch)
assert d2l.FashionMNIST().resize == (28, 28)
