"""The book's framework-neutral tensor names (`d2l.tensor`, `d2l.reshape`, `d2l.reduce_sum`,
...): the book writes code shared by its MXNet, PyTorch and TensorFlow versions with them. Here
they are PyTorch's functions, or one-line adapters where the method names differ. Also the
device helpers (`d2l.cpu()`, `d2l.try_gpu()`, ...)."""

from __future__ import annotations

import torch

ones = torch.ones
ones_like = torch.ones_like
zeros = torch.zeros
zeros_like = torch.zeros_like
tensor = torch.tensor
arange = torch.arange
meshgrid = torch.meshgrid
sin = torch.sin
sinh = torch.sinh
cos = torch.cos
cosh = torch.cosh
tanh = torch.tanh
sigmoid = torch.sigmoid
linspace = torch.linspace
exp = torch.exp
log = torch.log
normal = torch.normal
rand = torch.rand
randn = torch.randn
matmul = torch.matmul
batch_matmul = torch.bmm
int32 = torch.int32
int64 = torch.int64
float32 = torch.float32
concat = torch.cat
stack = torch.stack
abs = torch.abs
eye = torch.eye


def numpy(x, *args, **kwargs):
    return x.detach().numpy(*args, **kwargs)


def size(x, *args, **kwargs):
    return x.numel(*args, **kwargs)


def reshape(x, *args, **kwargs):
    return x.reshape(*args, **kwargs)


def to(x, *args, **kwargs):
    return x.to(*args, **kwargs)


def reduce_sum(x, *args, **kwargs):
    return x.sum(*args, **kwargs)


def reduce_mean(x, *args, **kwargs):
    return x.mean(*args, **kwargs)


def argmax(x, *args, **kwargs):
    return x.argmax(*args, **kwargs)


def astype(x, *args, **kwargs):
    return x.type(*args, **kwargs)


def transpose(x, *args, **kwargs):
    return x.t(*args, **kwargs)


def expand_dims(x, *args, **kwargs):
    return x.unsqueeze(*args, **kwargs)


def swapaxes(x, *args, **kwargs):
    return x.swapaxes(*args, **kwargs)


def repeat(x, *args, **kwargs):
    return x.repeat(*args, **kwargs)


# The names each edition's `d2l.torch` has (the current one added a few).
SEED_ALIASES = ("ones", "zeros", "tensor", "arange", "meshgrid", "sin", "sinh", "cos", "cosh",
                "tanh", "linspace", "exp", "log", "normal", "rand", "matmul", "int32", "float32",
                "concat", "stack", "abs", "eye", "numpy", "size", "reshape", "to", "reduce_sum",
                "argmax", "astype", "transpose")  # fmt: skip
CURRENT_ALIASES = SEED_ALIASES + ("ones_like", "zeros_like", "randn", "int64", "sigmoid",
                                  "batch_matmul", "reduce_mean", "expand_dims", "swapaxes",
                                  "repeat")  # fmt: skip


def cpu() -> torch.device:
    return torch.device("cpu")


def gpu(i: int = 0) -> torch.device:
    return torch.device(f"cuda:{i}")


def num_gpus() -> int:
    return torch.cuda.device_count()


def try_gpu(i: int = 0) -> torch.device:
    """GPU i if there is one, else the CPU."""
    return gpu(i) if num_gpus() >= i + 1 else cpu()


def try_all_gpus() -> list[torch.device]:
    """Every GPU, or [cpu()] when there is none."""
    return [gpu(i) for i in range(num_gpus())] or [cpu()]


DEVICE_HELPERS = ("cpu", "gpu", "num_gpus", "try_gpu", "try_all_gpus")
