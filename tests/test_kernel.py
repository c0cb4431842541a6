"""The compiled fused step on small generated data: what it checks, and where it steps aside.

Its equality with autograd on the real data set is in test_engines.py."""

import threading

import numpy as np
import pytest
import torch

from helpers import IN_CI, make_images
from softmaxreg import kernel
from softmaxreg.errors import ConfigError
from softmaxreg.training.engines import FusedEngine, SGDParams
from softmaxreg.training.loader import InMemorySplit
from softmaxreg.training.model import build_model


@pytest.fixture
def step():
    compiled = kernel.load_compiled_step()
    if compiled is None:
        if IN_CI:
            pytest.fail("CI=true and the compiled fused step was not built")
        pytest.skip("the compiled fused step was not built (no C compiler at install time)")
    return compiled


def engine_pair(bias=True, lr=0.5, momentum=0.0):
    """Two engines on identical models: compiled form, PyTorch form."""
    engines = []
    for compiled in (True, False):
        model = build_model(generator=torch.Generator().manual_seed(3))
        if not bias:
            model[1].bias = None
        engines.append(
            FusedEngine(model, SGDParams(model.parameters(), lr, momentum), compiled=compiled)
        )
    return engines


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_compiled_and_pytorch_forms_agree(step, bias, momentum):
    images, labels = make_images(203, 10, seed=1)
    split = InMemorySplit(images, labels)
    compiled, pytorch = engine_pair(bias, momentum=momentum)
    assert compiled.uses_compiled_step and not pytorch.uses_compiled_step
    results = {}
    for engine in (compiled, pytorch):
        gen = torch.Generator().manual_seed(0)
        batches = split.index_batches(16, gen)
        results[engine] = [engine.step_rows(split.images, i, y) for i, y in batches]
    pairs = zip(results[compiled], results[pytorch], strict=True)
    for (loss_c, correct_c), (loss_p, correct_p) in pairs:
        # Summed over 16 examples; near zero, float32 rounding of log-sum-exp is absolute.
        assert loss_c == pytest.approx(loss_p, rel=1e-5, abs=1e-5)
        assert abs(correct_c - correct_p) <= 1  # a tie at float precision may fall either way
    torch.testing.assert_close(compiled.weight, pytorch.weight, rtol=1e-5, atol=1e-6)
    if bias:
        torch.testing.assert_close(compiled.bias, pytorch.bias, rtol=1e-5, atol=1e-6)
    assert results[compiled][-1][1] > 0.5 * 11  # it learned: most of the last 11 are right


@pytest.mark.parametrize(
    "index, labels, message",
    [
        ([0, 5, 203], [1, 2, 3], "batch index is outside"),
        ([0, -1, 2], [1, 2, 3], "batch index is outside"),
        ([0, 1, 2], [1, 10, 3], "label is outside"),
    ],
)
def test_bad_rows_or_labels_raise_and_leave_the_weights(step, index, labels, message):
    images, _ = make_images(203, 10)
    split = InMemorySplit(images, _)
    engine, _ = engine_pair()
    before = engine.weight.detach().clone()
    with pytest.raises(ValueError, match=message):
        engine.step_rows(split.images, torch.tensor(index), torch.tensor(labels))
    assert torch.equal(engine.weight, before)


def kernel_arguments(step, classes=10, inputs=784, batch=8):
    images, labels = make_images(20, classes)
    return {
        "images": images.reshape(20, -1),
        "index": np.arange(batch, dtype=np.int64),
        "labels": labels[:batch].astype(np.int64),
        "weight": np.zeros((classes, inputs), np.float32),
        "bias": np.zeros(classes, np.float32),
        "grad_w": np.zeros((classes, inputs), np.float32),
        "grad_b": np.zeros(classes, np.float32),
        "work": step.workspace(inputs, classes),
    }


def spoil(name, how, a):
    if how == "dtype":
        return a.astype(np.float64 if a.dtype != np.float64 else np.float32)
    if how == "shape":
        return a[None]  # one dimension too many
    if how == "strided":
        return np.repeat(a, 2, axis=-1)[..., ::2]
    b = a.copy()  # read-only
    b.setflags(write=False)
    return b


WRITTEN = ["weight", "bias", "grad_w", "grad_b", "work"]
SPOILED = [
    (name, how)
    for name in ["images", "index", "labels", *WRITTEN]
    for how in ("dtype", "shape", "strided", "read-only")
    if how != "read-only" or name in WRITTEN
]


@pytest.mark.parametrize("name, how", SPOILED)
def test_every_buffer_is_checked_before_the_call(step, name, how):
    args = kernel_arguments(step)
    args[name] = spoil(name, how, args[name])
    before = {k: v.copy() for k, v in args.items()}
    with pytest.raises(ValueError, match=f"fused step: {name} must"):
        step(**args, scale=1 / 255, lr=0.1, apply=True)
    for k, v in args.items():  # nothing was written
        np.testing.assert_array_equal(v, before[k])


def test_non_finite_weights_give_a_non_finite_loss(step):
    images, labels = make_images(20, 10)
    split = InMemorySplit(images, labels)
    engine, _ = engine_pair()
    with torch.no_grad():
        engine.weight[3, 100] = float("nan")
    loss, _ = engine.step_rows(split.images, torch.arange(8), split.labels[:8])
    assert loss != loss  # NaN: the trainer stops on it with its divergence message


def test_float64_weights_run_the_pytorch_form(step):
    model = build_model().double()
    engine = FusedEngine(model, SGDParams(model.parameters(), 0.1))
    assert not engine.uses_compiled_step
    with pytest.raises(ConfigError, match="not available"):
        FusedEngine(model, SGDParams(model.parameters(), 0.1), compiled=True)
    images, labels = make_images(20, 10)
    split = InMemorySplit(images, labels)
    loss, _ = engine.step_rows(split.images, torch.arange(8), torch.ones(8).long())
    assert loss > 0


def test_a_missing_stale_or_foreign_library_falls_back_to_pytorch(step, tmp_path, monkeypatch):
    foreign = tmp_path / "_fused_step.so"
    foreign.write_bytes(b"not a shared library")
    built = kernel.library_path()
    cases = {
        "missing": (None, kernel.ABI_VERSION),
        "foreign": (foreign, kernel.ABI_VERSION),
        "stale": (built, kernel.ABI_VERSION + 1),
    }
    for name, (path, abi) in cases.items():
        monkeypatch.setattr(kernel, "library_path", lambda path=path: path)
        monkeypatch.setattr(kernel, "ABI_VERSION", abi)
        kernel.load_compiled_step.cache_clear()
        try:
            assert kernel.load_compiled_step() is None, name
            model = build_model()
            engine = FusedEngine(model, SGDParams(model.parameters(), 0.1))
            assert not engine.uses_compiled_step, name
        finally:
            kernel.load_compiled_step.cache_clear()


def test_engines_in_two_threads_get_their_own_results(step):
    """The compiled step runs without the GIL: two engines stepping at once in two threads
    (a server, a threaded grid search) must each get their own loss and correct count."""

    def steps(engine, split, seed):
        gen = torch.Generator().manual_seed(seed)
        batches = list(split.index_batches(4, gen)) * 6
        return [engine.step_rows(split.images, index, y) for index, y in batches]

    splits = [InMemorySplit(*make_images(400, 10, seed=s)) for s in (1, 2)]
    alone = [steps(engine_pair(lr=0.01)[0], split, s) for s, split in enumerate(splits)]
    together: list = [None, None]

    def work(s):
        together[s] = steps(engine_pair(lr=0.01)[0], splits[s], s)

    threads = [threading.Thread(target=work, args=(s,)) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert together == alone


def test_the_engine_checks_its_own_buffers_once_and_each_batch_every_step(step, monkeypatch):
    """The training hot path: weight, bias, gradients and scratch are checked when the engine
    makes them; each step checks only what changes (images, index, labels) and calls no
    ctypes function but the step itself."""
    from softmaxreg.kernel import arguments

    checked, sizes = [], []
    require, size = arguments.require, step._workspace_size

    def counted_require(name, *args, **kwargs):
        checked.append(name)
        return require(name, *args, **kwargs)

    def counted_size(*args):
        sizes.append(args)
        return size(*args)

    monkeypatch.setattr(arguments, "require", counted_require)
    monkeypatch.setattr(step, "_workspace_size", counted_size)
    split = InMemorySplit(*make_images(64, 10))
    for momentum in (0.0, 0.9):  # the step applies plain SGD itself, or leaves the gradient
        engine, _ = engine_pair(momentum=momentum)
        engine.step_rows(split.images, torch.arange(8), split.labels[:8])
        checked.clear()
        sizes.clear()
        for start in (8, 16, 24):
            engine.step_rows(
                split.images, torch.arange(start, start + 8), split.labels[start : start + 8]
            )
        assert checked == ["images", "index", "labels"] * 3 and sizes == []


def test_a_bound_step_refuses_bad_buffers(step):
    args = kernel_arguments(step)
    for name in WRITTEN:
        for how in ("dtype", "read-only"):
            bad = {**args, name: spoil(name, how, args[name])}
            with pytest.raises(ValueError, match=f"fused step: {name} must"):
                step.bind(*(bad[k] for k in WRITTEN))
    bound = step.bind(*(args[k] for k in WRITTEN))
    for name in ("images", "index", "labels"):
        for how in ("dtype", "shape", "strided"):
            batch = {k: args[k] for k in ("images", "index", "labels")}
            batch[name] = spoil(name, how, batch[name])
            with pytest.raises(ValueError, match=f"fused step: {name} must"):
                bound(*batch.values(), scale=1 / 255, lr=0.1, apply=True)
    assert not args["weight"].any()  # nothing was written
    good = bound(args["images"], args["index"], args["labels"], scale=1 / 255, lr=0.1, apply=True)
    fresh = kernel_arguments(step)
    assert good == step(**fresh, scale=1 / 255, lr=0.1, apply=True)
    np.testing.assert_array_equal(args["weight"], fresh["weight"])
