"""The book's 1.0 edition, section 3.2 (object-oriented design): d2l.add_to_class,
d2l.HyperParameters and the live d2l.ProgressBoard."""

import numpy as np
from d2l import torch as d2l


class A:
    def __init__(self):
        self.b = 1


a = A()


@d2l.add_to_class(A)
def do(self):
    return f'Class attribute "b" is {self.b}'


assert a.do() == 'Class attribute "b" is 1'
assert do is None  # the decorator returns nothing, as the book's does


class B(d2l.HyperParameters):
    def __init__(self, a, b, c):
        self.save_hyperparameters(ignore=["c"])
        print("self.a =", self.a, "self.b =", self.b)
        print("There is no self.c =", not hasattr(self, "c"))


b = B(a=1, b=2, c=3)
assert (b.a, b.b, not hasattr(b, "c"), b.hparams) == (1, 2, True, {"a": 1, "b": 2})

board = d2l.ProgressBoard("x")
for x in np.arange(0, 10, 0.1):
    board.draw(x, np.sin(x), "sin", every_n=2)
    board.draw(x, np.cos(x), "cos", every_n=10)
# Every every_n raw points are averaged into one drawn point.
assert len(board.data["sin"]) == 50 and len(board.data["cos"]) == 10
assert abs(board.data["cos"][0].x - 0.45) < 1e-9
