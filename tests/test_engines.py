"""The fused engine is the autograd engine: one step at a time from many weight states, and
whole trajectories where training is stable enough for a trajectory to mean something.

One step: from the same weights (and momentum buffers) and the same minibatch, both engines
must produce the same loss, the same correct count and the same updated parameters. "The
same" is what two correct implementations that sum in different orders can achieve: the
update agrees to 1e-5 of its size in float32 (1e-10 in float64), after allowing the one
rounding that storing the result in the parameter's own precision costs (one ulp).

Trajectories: over 235 steps at lr 1.0, or at batch size 1, training amplifies rounding so much
that autograd given weights one ulp apart ends 1e-5 to 1e-1 away from itself; no
different-but-equal arithmetic can be held to 1e-5 there, so those cells are compared one step
at a time only. At lr 0.1 with batches of 7 or 256, a one-ulp nudge moves autograd's
trajectory by under 1e-6 after 235 steps: there the whole trajectory is held to 1e-5.

The fused engine has two forms, the compiled step (float32 on the CPU) and the PyTorch one (any
device, float64): both are held to the same rules. The compiled one must be built under CI.
"""

import numpy as np
import pytest
import torch

from helpers import IN_CI
from softmaxreg.errors import ConfigError
from softmaxreg.kernel import load_compiled_step
from softmaxreg.training.engines import AutogradEngine, FusedEngine, SGDParams, make_engine
from softmaxreg.training.loader import InMemorySplit
from softmaxreg.training.model import build_model

FORMS = ["compiled", "pytorch"]
# (momentum, weight decay, nesterov): the seed's plain SGD, and torch.optim's other rules.
OPTIMIZERS = {
    "plain": (0.0, 0.0, False),
    "momentum": (0.9, 0.0, False),
    "nesterov+decay": (0.9, 1e-3, True),
}
STATES = 12  # random weight states per cell


def require_compiled_step() -> None:
    if load_compiled_step() is None:
        message = "the compiled fused step was not built (no C compiler at install time)"
        if IN_CI:
            pytest.fail(f"CI=true and {message}")
        pytest.skip(message)


@pytest.fixture(params=FORMS)
def form(request):
    if request.param == "compiled":
        require_compiled_step()
    return request.param


@pytest.fixture(
    params=[("compiled", torch.float32), ("pytorch", torch.float32), ("pytorch", torch.float64)],
    ids=["compiled", "pytorch", "pytorch-float64"],
)
def form_and_dtype(request):  # the compiled step is float32 only
    if request.param[0] == "compiled":
        require_compiled_step()
    return request.param


@pytest.fixture(scope="module")
def train_split(real_data):
    return InMemorySplit(real_data.train_images, real_data.train_labels)


def make_engine_at(kind, form, state, optimizer, lr, dtype):
    """An engine whose model and optimizer hold `state` (weights, bias, momentum buffers)."""
    weight, bias, buffers = state
    model = build_model().to(dtype)
    with torch.no_grad():
        model[1].weight.copy_(weight)
        model[1].bias.copy_(bias)
    momentum, decay, nesterov = OPTIMIZERS[optimizer]
    params = list(model.parameters())
    if kind == "fused":
        opt = SGDParams(params, lr, momentum, decay, nesterov)
        engine = FusedEngine(model, opt, compiled=form == "compiled")
    else:
        opt = torch.optim.SGD(
            params, lr=lr, momentum=momentum, weight_decay=decay, nesterov=nesterov
        )
        engine = AutogradEngine(model, opt)
    if momentum:
        for p, buf in zip(params, buffers, strict=True):
            opt.state[p] = {"momentum_buffer": buf.clone()}
    return engine


def random_state(rng: np.random.Generator, dtype):
    """Weights from the seed's initial scale up to a trained model's (std 0.003 to 0.3, a
    trained seed model has about 0.2), biases up to a few units, momentum buffers alike."""
    std = 10 ** rng.uniform(-2.5, -0.5)
    weight = torch.from_numpy(rng.normal(0, std, (10, 784))).to(dtype)
    bias = torch.from_numpy(rng.normal(0, 10 ** rng.uniform(-2, 0.3), 10)).to(dtype)
    buffers = [torch.from_numpy(rng.normal(0, 0.05, s)).to(dtype) for s in ((10, 784), (10,))]
    return weight, bias, buffers


def step(engine, split, index):
    return engine.step_rows(split.images, index, split.labels[index])


def assert_update_close(before, fused, reference, rtol):
    """`fused` equals `reference` to `rtol` of the update's size, beyond one ulp of the stored
    result (the rounding any implementation pays when it stores the new value)."""
    size = float((reference.double() - before.double()).abs().max())
    ulp = torch.nextafter(reference.abs(), torch.full_like(reference, float("inf")))
    ulp = (ulp - reference.abs()).double()
    excess = float(((fused.double() - reference.double()).abs() - ulp).clamp(min=0).max())
    assert excess <= rtol * size, f"differs by {excess:.3e}, {excess / size:.2e} of the update"


def ambiguous(split, index, weight, bias):
    """Examples whose two best classes are tied to within float32 rounding (either engine's
    argmax may then differ): computed in float64."""
    X = split.images[index].double() / 255
    z = X @ weight.double().T + bias.double()
    top2 = z.topk(2, dim=1).values
    return int(((top2[:, 0] - top2[:, 1]) <= 1e-5 * (1 + z.abs().max(dim=1).values)).sum())


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("lr", [0.1, 1.0])
@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_one_step_equals_autograd(train_split, form_and_dtype, batch_size, lr, optimizer):
    form, dtype = form_and_dtype
    rtol = 1e-5 if dtype == torch.float32 else 1e-10
    rng = np.random.default_rng([batch_size, int(lr * 10), len(optimizer)])
    for _ in range(STATES):
        state = random_state(rng, dtype)
        index = torch.from_numpy(rng.choice(len(train_split), batch_size, replace=False))
        fused = make_engine_at("fused", form, state, optimizer, lr, dtype)
        autograd = make_engine_at("autograd", form, state, optimizer, lr, dtype)
        loss_f, correct_f = step(fused, train_split, index)
        loss_a, correct_a = step(autograd, train_split, index)
        # Summed per-example losses: each is exact to rounding of logits of a few units.
        assert loss_f == pytest.approx(loss_a, rel=rtol, abs=rtol * batch_size)
        assert abs(correct_f - correct_a) <= ambiguous(train_split, index, *state[:2])
        for p_f, p_a, before in zip(
            fused.model.parameters(), autograd.model.parameters(), state[:2], strict=True
        ):
            assert_update_close(before, p_f.detach(), p_a.detach(), rtol)
            if OPTIMIZERS[optimizer][0]:
                buf_f = fused.optimizer.state[p_f]["momentum_buffer"]
                buf_a = autograd.optimizer.state[p_a]["momentum_buffer"]
                start = state[2][0] if p_f.dim() == 2 else state[2][1]
                assert_update_close(start, buf_f, buf_a, rtol)


def run_steps(
    real_data, kind, steps, batch_size, lr, momentum=0.0, decay=0.0, nesterov=False, form="compiled"
):
    """`steps` SGD steps from the seed's initial weights over one shuffled order."""
    n = (steps - 1) * batch_size + max(1, batch_size // 2)  # the last batch partial
    split = InMemorySplit(real_data.train_images[:n], real_data.train_labels[:n])
    model = build_model(generator=torch.Generator().manual_seed(0))
    if kind == "fused":
        optimizer = SGDParams(model.parameters(), lr, momentum, decay, nesterov)
        engine = FusedEngine(model, optimizer, compiled=form == "compiled")
    else:
        opt = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=momentum, weight_decay=decay, nesterov=nesterov
        )
        engine = AutogradEngine(model, opt)
    batches = split.index_batches(batch_size, torch.Generator().manual_seed(1))
    results = [engine.step_rows(split.images, index, y) for index, y in batches]
    assert len(results) == steps
    losses, corrects = zip(*results, strict=True)
    return model[1].weight.detach().clone(), model[1].bias.detach().clone(), losses, corrects


def rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("batch_size", [7, 256])
@pytest.mark.parametrize("steps", [1, 10, 235])
def test_stable_trajectories_equal_autograd(real_data, form, batch_size, steps):
    wf, bf, lf, cf = run_steps(real_data, "fused", steps, batch_size, 0.1, form=form)
    wa, ba, la, ca = run_steps(real_data, "autograd", steps, batch_size, 0.1)
    assert rel_err(wf, wa) < 1e-5 and rel_err(bf, ba) < 1e-5
    np.testing.assert_allclose(lf, la, rtol=1e-5, atol=1e-5 * batch_size)
    assert abs(sum(cf) - sum(ca)) <= 1  # a tie at float precision may fall either way


def test_trajectory_with_momentum_decay_nesterov(real_data, form):
    args = dict(steps=235, batch_size=256, lr=0.1, momentum=0.9, decay=1e-4, nesterov=True)
    wf, bf, lf, _ = run_steps(real_data, "fused", form=form, **args)
    wa, ba, la, _ = run_steps(real_data, "autograd", **args)
    assert rel_err(wf, wa) < 1e-5 and rel_err(bf, ba) < 1e-5
    np.testing.assert_allclose(lf, la, rtol=1e-5)


def test_auto_picks_fused_only_where_it_applies():
    model = build_model()
    assert isinstance(make_engine("auto", model, SGDParams(model.parameters(), 0.1)), FusedEngine)
    adam = torch.optim.Adam(model.parameters())
    assert isinstance(make_engine("auto", model, adam), AutogradEngine)
    deeper = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10), torch.nn.ReLU())
    sgd = torch.optim.SGD(deeper.parameters(), lr=0.1)
    assert isinstance(make_engine("auto", deeper, sgd), AutogradEngine)
    with pytest.raises(ConfigError, match="does not apply"):
        make_engine("fused", model, adam)
    with pytest.raises(ConfigError, match="unknown engine"):
        make_engine("turbo", model, sgd)
