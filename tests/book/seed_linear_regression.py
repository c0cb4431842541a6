"""The book's 0.17 edition, section 3.1 (linear regression): a loop against one vectorised sum,
timed with d2l.Timer, and three normal densities drawn with d2l.plot."""

import math

import numpy as np
import torch
from d2l import torch as d2l

n = 10000
a = d2l.ones(n)
b = d2l.ones(n)

# Element by element, then all at once.
c = d2l.zeros(n)
timer = d2l.Timer()
for i in range(n):
    c[i] = a[i] + b[i]
print(f"loop: {timer.stop():.5f} sec")
timer.start()
d = a + b
print(f"vectorised: {timer.stop():.5f} sec")
assert torch.equal(c, d)
assert len(timer.times) == 2 and timer.times[0] > timer.times[1]
assert math.isclose(timer.cumsum()[-1], timer.sum()) and math.isclose(timer.avg(), timer.sum() / 2)


def normal(x, mu, sigma):
    scale = 1 / math.sqrt(2 * math.pi * sigma**2)
    return scale * np.exp(-0.5 / sigma**2 * (x - mu) ** 2)


x = np.arange(-7, 7, 0.01)
params = [(0, 1), (0, 2), (3, 1)]
densities = [normal(x, mu, sigma) for mu, sigma in params]
legend = [f"mean {mu}, std {sigma}" for mu, sigma in params]
d2l.plot(x, densities, xlabel="x", ylabel="p(x)", figsize=(4.5, 2.5), legend=legend)
