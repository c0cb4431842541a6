"""One training step, two ways, behind one interface: `step_rows(pixels, index, y)` takes an
SGD step on the rows `index` of a uint8 (n, inputs) tensor and returns the batch's summed loss
and number of correct predictions.

`AutogradEngine` is the seed's concise code (d2l's `train_epoch_ch3` with a torch optimizer):
per-example losses from `nn.CrossEntropyLoss(reduction='none')`, `.mean().backward()`,
`optimizer.step()`. It works for any model, loss and optimizer.

`FusedEngine` does the same SGD step for the seed's model (Flatten + Linear) by hand, without
autograd: the stable log-sum-exp softmax of section 7.2 forward, its closed-form gradient
(softmax - onehot) / B backward, and torch's SGD update rule (momentum, dampening 0, weight
decay, Nesterov) applied in place to the same `nn.Linear` parameters and the same optimizer
state. Layouts follow the measured facts: the weight stays (classes, inputs), logits are one
`addmm` against W^T, and the weight gradient is G^T X, which BLAS runs several times faster
here than the X^T G that an (inputs, classes) layout would need. On the CPU in float32 it runs
its compiled form (softmaxreg.kernel): the same step in one pass over each example, gathered
from the uint8 data set inside the kernel. Tests hold both forms to autograd step for step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

import torch
from torch import nn

from ..config import ENGINES
from ..errors import ConfigError
from ..kernel import CompiledStep, load_compiled_step
from .model import linear_of


class Engine(Protocol):
    name: str
    model: nn.Module
    optimizer: Any  # torch.optim.Optimizer or SGDParams: param_groups and state

    def step_rows(
        self, pixels: torch.Tensor, index: torch.Tensor, y: torch.Tensor
    ) -> tuple[float, int]: ...


class SplitStep(Engine, Protocol):
    """An engine whose step comes apart around a collective (data-parallel training,
    softmaxreg.training.distributed): gather a share's rows, take the gradient of the loss
    summed over them and divided by `norm` (the global batch, so that the shares' gradients
    sum to the global mean's), then, once the gradients are summed over every process, apply
    them. `grads` are tensors shaped like the optimizer's parameters, in its order."""

    @property
    def gathers_separately(self) -> bool:
        """Whether `gather_rows` does work of its own, which may overlap a collective."""
        ...

    def gather_rows(self, pixels: torch.Tensor, index: torch.Tensor) -> Any: ...

    def gradient(
        self, rows: Any, y: torch.Tensor, norm: int, grads: Sequence[torch.Tensor]
    ) -> tuple[float, int]: ...

    def apply_gradient(self, grads: Sequence[torch.Tensor]) -> None: ...


class KernelRows(NamedTuple):
    """A share's rows as the compiled step takes them: it gathers them itself."""

    pixels: torch.Tensor
    rows: torch.Tensor  # indices into pixels


class FusedUnsupported(ConfigError):
    """The fused engine cannot stand in for autograd with this model, optimizer or loss."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"{{name}} fused does not apply: {reason}; use {{name}} autograd", "engine"
        )


class SGDParams:
    """SGD's hyperparameters and momentum buffers in `torch.optim.SGD`'s own layout
    (`param_groups`, `state`), without torch.optim: building a torch.optim.SGD imports
    torch._dynamo, which costs more than the whole fused run (bench row (b) shows it).
    `make_engine` turns it into a real `torch.optim.SGD` when the autograd engine is used."""

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        self.param_groups: list[dict[str, Any]] = [
            {
                "params": list(params),
                "lr": lr,
                "momentum": momentum,
                "dampening": 0,
                "weight_decay": weight_decay,
                "nesterov": nesterov,
                "maximize": False,
            }
        ]
        self.state: dict = {}

    def to_torch(self) -> torch.optim.SGD:
        group = self.param_groups[0]
        opt = torch.optim.SGD(
            group["params"],
            lr=group["lr"],
            momentum=group["momentum"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
        )
        for p, st in self.state.items():
            opt.state[p] = dict(st)
        return opt


class RowGather:
    """The rows `index` of uint8 pixels as raw 0..255 floats, in buffers reused from step to
    step (no allocation per step, and the buffers stay in cache)."""

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        self.dtype = dtype
        self._buffers: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(self, pixels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        key = (len(index), pixels.shape[1], pixels.device)
        buffers = self._buffers.get(key)
        if buffers is None:
            shape = (len(index), pixels.shape[1])
            buffers = self._buffers[key] = (
                torch.empty(shape, dtype=pixels.dtype, device=pixels.device),
                torch.empty(shape, dtype=self.dtype, device=pixels.device),
            )
        raw, floats = buffers
        torch.index_select(pixels, 0, index, out=raw)
        return floats.copy_(raw)


class AutogradEngine:
    name = "autograd"

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss=None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss = loss if loss is not None else nn.CrossEntropyLoss(reduction="none")
        dtype = next(model.parameters()).dtype
        self._gather = RowGather(dtype if dtype.is_floating_point else torch.float32)

    def step_rows(
        self, pixels: torch.Tensor, index: torch.Tensor, y: torch.Tensor
    ) -> tuple[float, int]:
        # x / 255 in the parameters' precision: torchvision's ToTensor arithmetic in float32.
        return self.step(self.gather_rows(pixels, index), y)

    def step(self, X: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """One update on inputs X; returns the batch's summed loss and correct count."""
        y_hat = self.model(X)
        losses = self.loss(y_hat, y)
        self.optimizer.zero_grad()
        if losses.dim() > 0:
            losses.mean().backward()
            total = float(losses.detach().sum())
        else:  # a loss with reduction='mean' (the book allows either)
            losses.backward()
            total = float(losses.detach()) * len(y)
        self.optimizer.step()
        return total, int((y_hat.argmax(dim=1) == y).sum())

    # -- the step in two halves, for data-parallel training (SplitStep) ---------------------

    gathers_separately = True

    def gather_rows(self, pixels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return self._gather(pixels, index).div_(255)

    def gradient(
        self, rows: torch.Tensor, y: torch.Tensor, norm: int, grads: Sequence[torch.Tensor]
    ) -> tuple[float, int]:
        y_hat = self.model(rows)
        losses = self.loss(y_hat, y)
        self.optimizer.zero_grad()
        if losses.dim() > 0:
            losses.sum().div(norm).backward()
            total = float(losses.detach().sum())
        else:  # the share's mean, weighted as its part of the global batch
            losses.mul(len(y) / norm).backward()
            total = float(losses.detach()) * len(y)
        for p, g in zip(self._params, grads, strict=True):
            if p.grad is None:
                g.zero_()
            else:
                g.copy_(p.grad)
        return total, int((y_hat.argmax(dim=1) == y).sum())

    def apply_gradient(self, grads: Sequence[torch.Tensor]) -> None:
        for p, g in zip(self._params, grads, strict=True):
            p.grad = g  # the summed gradient; the next zero_grad() lets it go again
        self.optimizer.step()

    @property
    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.optimizer.param_groups for p in group["params"]]


class FusedEngine:
    name = "fused"

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.SGD | SGDParams,
        loss=None,
        compiled: bool | None = None,
    ) -> None:
        """`compiled`: None uses the compiled step where it applies (float32 weights on the
        CPU, package built with a C compiler); False always runs the PyTorch form; True
        insists on the compiled one. Raises FusedUnsupported where the fused step would not
        be the model's, optimizer's and loss's own step."""
        reason = fused_unsupported(model, optimizer, loss)
        if reason:
            raise FusedUnsupported(reason)
        linear = linear_of(model)
        assert linear is not None
        self.model = model
        self.optimizer = optimizer
        self.weight = linear.weight
        self.bias = linear.bias
        self._kernel: CompiledStep | None = None if compiled is False else load_compiled_step()
        if compiled and not self.uses_compiled_step:
            raise ConfigError(
                "the compiled fused step is not available here (package built without a C "
                "compiler, or weights not float32 on the CPU); use the PyTorch form"
            )
        self._gather = RowGather(self.weight.dtype)
        self._constants: dict = {}
        self._bias_view: torch.Tensor | None = None
        self._arrays: dict[str, Any] = {}  # the compiled step's numpy views and scratch

    @property
    def uses_compiled_step(self) -> bool:
        return self._kernel is not None and all(
            t is None or (t.dtype is torch.float32 and t.is_cpu and t.is_contiguous())
            for t in (self.weight, self.bias)
        )

    @torch.no_grad()
    def step_rows(
        self, pixels: torch.Tensor, index: torch.Tensor, y: torch.Tensor
    ) -> tuple[float, int]:
        """One SGD step on the rows `index` of uint8 `pixels`: the compiled step reads them
        from the data set itself; the PyTorch form gathers them into reused buffers."""
        if self.uses_compiled_step and pixels.is_cpu:
            return self._step_compiled(pixels, index, y)
        return self.step(self._gather(pixels, index), y, 1 / 255)

    def _step_compiled(self, pixels, index, y) -> tuple[float, int]:
        assert self._kernel is not None
        group = self.optimizer.param_groups[0]
        a = self._compiled_arrays()
        plain = is_plain_sgd(group)
        result = a["step"](
            pixels.numpy(), index.numpy(), y.numpy(), scale=1 / 255, lr=group["lr"], apply=plain
        )
        if not plain:
            self._optimizer_update(a["grad_w_t"], a["grad_b_t"], group)
        return result

    def _compiled_arrays(self) -> dict[str, Any]:
        """numpy views sharing the parameters' memory, scratch, and the compiled step bound to
        them (checked here, once: each step then checks only its batch), made once: again only
        if a parameter's storage was replaced (model.to(...), a new tensor assigned)."""
        key = (self.weight.data_ptr(), None if self.bias is None else self.bias.data_ptr())
        if self._arrays.get("key") != key:
            assert self._kernel is not None
            classes, inputs = self.weight.shape
            grad_w, grad_b = torch.empty(classes, inputs), torch.empty(classes)
            arrays = (
                self.weight.detach().numpy(),
                None if self.bias is None else self.bias.detach().numpy(),
                grad_w.numpy(),
                grad_b.numpy(),
                self._kernel.workspace(inputs, classes),
            )
            self._arrays = {
                "key": key,
                **dict(zip(("weight", "bias", "grad_w", "grad_b", "work"), arrays, strict=True)),
                "grad_w_t": grad_w,
                "grad_b_t": grad_b,
                "step": self._kernel.bind(*arrays),
            }
        return self._arrays

    @torch.no_grad()
    def step(self, X: torch.Tensor, y: torch.Tensor, scale: float = 1.0) -> tuple[float, int]:
        """One SGD step on (batch, inputs) inputs `X * scale` (the PyTorch form); returns the
        summed loss and correct count."""
        loss_sum, correct, grad = self._logit_gradient(X, y, scale, len(y))
        self._update(grad, X, scale)
        return loss_sum, correct

    def _logit_gradient(
        self, X: torch.Tensor, y: torch.Tensor, scale: float, norm: int
    ) -> tuple[float, int, torch.Tensor]:
        """The batch's summed loss, its correct count, and dL/dlogits (classes, batch) of the
        loss summed over the batch and divided by `norm` (the batch itself, or the global
        batch of which it is a share).

        Each line is a kernel call of a few microseconds on 256 x 10 values, so the step is
        written with as few as the maths allows (the two matrix products are the real work)."""
        W = self.weight
        batch = len(y)
        target = y.unsqueeze(0)
        # Logits transposed, (classes, batch) = W X^T: the fast BLAS layout here; every
        # reduction below runs over the class axis 0.
        if self.bias is not None:
            z = torch.addmm(self._bias_column, W, X.t(), alpha=scale)
        else:
            z = torch.mm(W, X.t()).mul_(scale)
        # Section 7.2: shift each column by its max, so every exponent is <= 0; then
        # log p = shifted - log(sum exp(shifted)), and no probability is ever logged.
        z.sub_(z.amax(dim=0, keepdim=True))
        shifted_true = z.gather(0, target)
        # The true class holds the maximum exactly when its shifted logit is 0 (ties count
        # as correct; argmax would pick one of them).
        correct = batch - int(torch.count_nonzero(shifted_true))
        log_sum = z.exp().sum(dim=0, keepdim=True).log_()
        loss_sum = float(log_sum.sub(shifted_true).sum())
        # dL/dlogits of the mean loss in autograd's order of operations (so that both engines
        # round alike): exp(log p) / B, minus 1/B at each true class.
        grad = z.sub_(log_sum).exp_().mul_(1.0 / norm)
        grad.scatter_add_(0, target, self._minus_inv_batch(batch, norm, grad))
        return loss_sum, correct, grad

    # -- the step in two halves, for data-parallel training (SplitStep) ---------------------

    @property
    def gathers_separately(self) -> bool:
        # The compiled step gathers each block of rows inside its one pass over them, and that
        # pass needs the updated weights: there is nothing to do ahead of time.
        return not self.uses_compiled_step

    def gather_rows(self, pixels: torch.Tensor, index: torch.Tensor) -> Any:
        if self.uses_compiled_step and pixels.is_cpu:
            return KernelRows(pixels, index)
        return self._gather(pixels, index)

    @torch.no_grad()
    def gradient(
        self, rows: Any, y: torch.Tensor, norm: int, grads: Sequence[torch.Tensor]
    ) -> tuple[float, int]:
        grad_w, grad_b = self._weight_and_bias(grads)
        if isinstance(rows, KernelRows):
            assert self._kernel is not None
            a = self._compiled_arrays()
            return self._kernel(
                rows.pixels.numpy(),
                rows.rows.numpy(),
                y.numpy(),
                a["weight"],
                a["bias"],
                grad_w.numpy(),
                a["grad_b"] if grad_b is None else grad_b.numpy(),
                a["work"],
                scale=1 / 255,
                lr=0.0,
                apply=False,
                norm=norm,
            )
        scale = 1 / 255
        loss_sum, correct, grad = self._logit_gradient(rows, y, scale, norm)
        torch.mm(grad, rows, out=grad_w).mul_(scale)
        if grad_b is not None:
            torch.sum(grad, dim=1, out=grad_b)
        return loss_sum, correct

    @torch.no_grad()
    def apply_gradient(self, grads: Sequence[torch.Tensor]) -> None:
        grad_w, grad_b = self._weight_and_bias(grads)
        group = self.optimizer.param_groups[0]
        if is_plain_sgd(group):
            self.weight.add_(grad_w, alpha=-group["lr"])
            if self.bias is not None:
                self.bias.add_(grad_b, alpha=-group["lr"])
        else:
            self._optimizer_update(grad_w, grad_b, group)

    def _weight_and_bias(self, grads: Sequence[torch.Tensor]):
        """The gradients of the weight and the bias among `grads` (the optimizer's order)."""
        params = self.optimizer.param_groups[0]["params"]
        slots = {id(p): g for p, g in zip(params, grads, strict=True)}
        return slots[id(self.weight)], None if self.bias is None else slots[id(self.bias)]

    def _update(self, grad: torch.Tensor, X: torch.Tensor, scale: float) -> None:
        group = self.optimizer.param_groups[0]
        W, b, lr = self.weight, self.bias, group["lr"]
        if is_plain_sgd(group):
            # Plain SGD, the seed's optimizer: W -= lr * scale * G^T X as one BLAS call that
            # accumulates straight into the weight, no gradient tensor in between.
            W.addmm_(grad, X, alpha=-lr * scale)
            if b is not None:
                b.sub_(grad.sum(dim=1), alpha=lr)
            return
        grad_w = torch.mm(grad, X).mul_(scale)
        self._optimizer_update(grad_w, grad.sum(dim=1) if b is not None else None, group)

    def _optimizer_update(self, grad_w, grad_b, group: dict) -> None:
        """torch.optim's rule (momentum, weight decay, Nesterov) for the weight and the bias."""
        self._sgd_update(self.weight, grad_w, group)
        if self.bias is not None:
            self._sgd_update(self.bias, grad_b, group)

    @property
    def _bias_column(self) -> torch.Tensor:
        # A (classes, 1) view of the bias, made once: it follows every in-place update, and is
        # made again if the parameter's storage was replaced (model.to(...), load_state_dict).
        assert self.bias is not None
        if self._bias_view is None or self._bias_view.data_ptr() != self.bias.data_ptr():
            self._bias_view = self.bias.unsqueeze(1)
        return self._bias_view

    def _minus_inv_batch(self, batch: int, norm: int, like: torch.Tensor) -> torch.Tensor:
        """-1/norm in a (1, batch) row, cached per size (a run sees at most two or three)."""
        key = (batch, norm, like.dtype, like.device)
        column = self._constants.get(key)
        if column is None:
            column = self._constants[key] = torch.full(
                (1, batch), -1.0, dtype=like.dtype, device=like.device
            ).mul_(1.0 / norm)
        return column

    def _sgd_update(self, p: torch.Tensor, grad: torch.Tensor, group: dict) -> None:
        """torch.optim.SGD's rule, with its momentum buffer kept in the optimizer's state."""
        if group["weight_decay"]:
            grad = grad.add_(p, alpha=group["weight_decay"])  # grad is this step's scratch
        momentum = group["momentum"]
        if momentum:
            state = self.optimizer.state.setdefault(p, {})
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.clone()
            else:
                buf.mul_(momentum).add_(grad)
            grad = grad.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(grad, alpha=-group["lr"])


def is_plain_sgd(group: dict) -> bool:
    """SGD without momentum or weight decay: the update can be applied in place at once."""
    return not group["momentum"] and not group["weight_decay"]


def fused_unsupported(model: nn.Module, optimizer: Any, loss=None) -> str:
    """Why the fused engine cannot stand in for autograd here ('' when it can)."""
    linear = linear_of(model)
    if linear is None:
        return "the model is not Flatten + Linear"
    if type(optimizer) not in (torch.optim.SGD, SGDParams):
        return f"the optimizer is {type(optimizer).__name__}, not plain SGD"
    if len(optimizer.param_groups) != 1:
        return "the optimizer has several parameter groups"
    group = optimizer.param_groups[0]
    params = {id(p) for p in group["params"]}
    expected = {id(p) for p in linear.parameters()}
    if params != expected:
        return "the optimizer does not hold exactly the linear layer's parameters"
    if group.get("dampening", 0) or group.get("maximize", False):
        return "SGD with dampening or maximize"
    if loss is not None:
        if type(loss) is not nn.CrossEntropyLoss:
            return f"the loss is {type(loss).__name__}, not CrossEntropyLoss"
        if loss.weight is not None or loss.label_smoothing or loss.reduction == "sum":
            return "CrossEntropyLoss with class weights, label smoothing or reduction='sum'"
    if linear.weight.dtype not in (torch.float32, torch.float64):
        return "the weights are neither float32 nor float64"
    return ""


def make_engine(kind: str, model: nn.Module, optimizer: Any, loss=None) -> Engine:
    """'fused' where it applies when kind is 'auto'; 'autograd' always applies."""
    if kind not in ENGINES:
        raise ConfigError(
            f"{{name}}: unknown engine {kind!r}; choose one of: {', '.join(ENGINES)}", "engine"
        )
    if kind != "autograd":
        try:
            return FusedEngine(model, optimizer, loss)
        except FusedUnsupported:
            if kind == "fused":
                raise
    if isinstance(optimizer, SGDParams):
        optimizer = optimizer.to_torch()
    return AutogradEngine(model, optimizer, loss)
