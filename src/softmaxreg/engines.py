"""One training step, two ways.

`AutogradEngine` is the seed's concise code (d2l's `train_epoch_ch3` with a torch optimizer):
per-example losses from `nn.CrossEntropyLoss(reduction='none')`, `.mean().backward()`,
`optimizer.step()`. It works for any model, loss and optimizer.

`FusedEngine` does the same SGD step for the seed's model (Flatten + Linear) by hand, without
autograd: the stable log-sum-exp softmax of section 7.2 forward, its closed-form gradient
(softmax - onehot) / B backward, and torch's SGD update rule (momentum, dampening 0, weight
decay, Nesterov) applied in place to the same `nn.Linear` parameters and the same optimizer
state. Layouts follow the measured facts: the weight stays (classes, inputs), logits are one
`addmm` against W^T, and the weight gradient is G^T X, which BLAS runs 3-5x faster here than
the X^T G a (inputs, classes) layout would need. Tests prove both engines equal.

On the CPU in float32 the fused engine runs its compiled form (`kernel.py`): the same step in
one pass over each example, gathered from the uint8 data set inside the kernel.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ENGINES
from .data.loader import InMemorySplit
from .errors import ConfigError
from .kernel import CompiledStep, compiled_step
from .model import linear_of


class SGDParams:
    """SGD's hyperparameters and momentum buffers in `torch.optim.SGD`'s own layout
    (`param_groups`, `state`), without torch.optim: its first step imports torch._dynamo,
    2.3 s here, more than the whole fused training run. `make_engine` turns it into a real
    `torch.optim.SGD` when the autograd engine is used."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:  # fmt: skip
        self.param_groups = [
            {"params": list(params), "lr": lr, "momentum": momentum, "dampening": 0,
             "weight_decay": weight_decay, "nesterov": nesterov, "maximize": False}
        ]  # fmt: skip
        self.state: dict = {}

    def to_torch(self) -> torch.optim.SGD:
        group = self.param_groups[0]
        opt = torch.optim.SGD(
            group["params"], lr=group["lr"], momentum=group["momentum"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
        )  # fmt: skip
        for p, st in self.state.items():
            opt.state[p] = dict(st)
        return opt


class AutogradEngine:
    name = "autograd"

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss=None) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss = loss if loss is not None else nn.CrossEntropyLoss(reduction="none")

    def step(self, X: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """One update; returns the batch's summed loss and number of correct predictions."""
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


class FusedEngine:
    name = "fused"

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.SGD | SGDParams,
        compiled: bool | None = None,
    ) -> None:
        """`compiled`: None uses the compiled step where it applies (float32 weights on the
        CPU, package built with a C compiler); False always runs the PyTorch form; True
        insists on the compiled one."""
        linear = linear_of(model)
        reason = fused_unsupported(model, optimizer)
        if linear is None or reason:
            raise ConfigError(f"--engine fused does not apply: {reason}; use --engine autograd")
        self.model = model
        self.optimizer = optimizer
        self.weight = linear.weight
        self.bias = linear.bias
        self._bias_view: torch.Tensor | None = None
        self._constants: dict = {}
        self._kernel: CompiledStep | None = None if compiled is False else compiled_step()
        if compiled and not self.uses_compiled_step:
            raise ConfigError(
                "the compiled fused step is not available here (package built without a C "
                "compiler, or weights not float32 on the CPU); use the PyTorch form"
            )
        self._gather_buffers: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}  # reused
        self._scratch: tuple[torch.Tensor, ...] | None = None  # the compiled step's

    @property
    def uses_compiled_step(self) -> bool:
        return self._kernel is not None and CompiledStep.supports(self.weight, self.bias)

    @torch.no_grad()
    def step_rows(
        self, split: InMemorySplit, index: torch.Tensor, y: torch.Tensor
    ) -> tuple[float, int]:
        """One SGD step on the rows `index` of `split` (an InMemorySplit of uint8 pixels): the
        compiled step reads them from the data set itself; the PyTorch form gathers them into
        buffers reused from step to step."""
        if self.uses_compiled_step and split.images.is_cpu:
            return self._compiled_step(split.images, index, y)
        key = (len(index), self.weight.dtype)
        buffers = self._gather_buffers.get(key)
        if buffers is None:
            buffers = self._gather_buffers[key] = split.gather_buffers(*key)
        return self.step(split.gather(index, *buffers), y, 1 / 255)

    def _compiled_step(self, images, index, y) -> tuple[float, int]:
        group = self.optimizer.param_groups[0]
        W, b = self.weight, self.bias
        if self._scratch is None:
            classes, inputs = W.shape
            self._scratch = (torch.empty(classes, inputs), torch.empty(classes),
                             self._kernel.workspace(inputs, classes))  # fmt: skip
        grad_w, grad_b, work = self._scratch
        plain = is_plain_sgd(group)
        result = self._kernel(
            images, index, y, W, b, 1 / 255, group["lr"], plain, grad_w, grad_b, work
        )
        if not plain:
            self._optimizer_update(grad_w, grad_b, group)
        return result

    @torch.no_grad()
    def step(self, X: torch.Tensor, y: torch.Tensor, scale: float = 1.0) -> tuple[float, int]:
        """One SGD step on inputs `X * scale`; returns the summed loss and correct count.

        Each line is a kernel call of a few microseconds on 256 x 10 values, so the step is
        written with as few as the maths allows (the two matrix products are the real work)."""
        W = self.weight
        if X.dim() != 2:
            X = X.reshape(len(X), -1)
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
        grad = z.sub_(log_sum).exp_().mul_(1.0 / batch)
        grad.scatter_add_(0, target, self._minus_inv_batch(batch, grad))
        self._update(grad, X, scale)
        return loss_sum, correct

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
        grad_w = torch.mm(grad, X)
        grad_w = grad_w.mul_(scale) if scale != 1.0 else grad_w
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
        if self._bias_view is None or self._bias_view.data_ptr() != self.bias.data_ptr():
            self._bias_view = self.bias.unsqueeze(1)
        return self._bias_view

    def _minus_inv_batch(self, batch: int, like: torch.Tensor) -> torch.Tensor:
        """-1/batch in a (1, batch) row, cached per batch size (a run sees at most two)."""
        key = (batch, like.dtype, like.device)
        column = self._constants.get(key)
        if column is None:
            column = self._constants[key] = torch.full(
                (1, batch), -1.0, dtype=like.dtype, device=like.device
            ).mul_(1.0 / batch)
        return column

    def _sgd_update(self, p: torch.Tensor, grad: torch.Tensor, group: dict) -> None:
        """torch.optim.SGD's rule, with its momentum buffer kept in the optimizer's state."""
        if group["weight_decay"]:
            grad = grad.add_(p, alpha=group["weight_decay"])
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


def fused_unsupported(model: nn.Module, optimizer: torch.optim.Optimizer, loss=None) -> str:
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


def make_engine(
    kind: str, model: nn.Module, optimizer: torch.optim.Optimizer, loss=None
) -> AutogradEngine | FusedEngine:
    """'fused' where it applies when kind is 'auto'; 'autograd' always applies."""
    if kind not in ENGINES:
        raise ConfigError(f"--engine: unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
    reason = fused_unsupported(model, optimizer, loss)
    if kind == "fused" and reason:
        raise ConfigError(f"--engine fused does not apply: {reason}; use --engine autograd")
    if kind == "autograd" or reason:
        if isinstance(optimizer, SGDParams):
            optimizer = optimizer.to_torch()
        return AutogradEngine(model, optimizer, loss)
    return FusedEngine(model, optimizer)
