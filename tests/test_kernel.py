"""The compiled fused step on small generated data: what it checks, and where it steps aside.

Its equality with autograd on the real data set is in test_engines.py."""

import pytest
import torch
from conftest import IN_CI, make_images

from softmaxreg import kernel
from softmaxreg.data.loader import InMemorySplit
from softmaxreg.engines import FusedEngine, SGDParams
from softmaxreg.errors import ConfigError
from softmaxreg.model import build_model


@pytest.fixture
def step():
    compiled = kernel.compiled_step()
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
        engines.append(FusedEngine(model, SGDParams(model.parameters(), lr, momentum), compiled))
    return engines


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_compiled_and_pytorch_forms_agree(step, bias, momentum):
    images, labels = make_images(203, 10, seed=1)
    split = InMemorySplit(images, labels)
    compiled, pytorch = engine_pair(bias, momentum=momentum)
    assert compiled.uses_compiled_step and not pytorch.uses_compiled_step
    for engine in (compiled, pytorch):
        gen = torch.Generator().manual_seed(0)
        engine.results = [engine.step_rows(split, i, y) for i, y in split.index_batches(16, gen)]
    pairs = zip(compiled.results, pytorch.results, strict=True)
    for (loss_c, correct_c), (loss_p, correct_p) in pairs:
        # Summed over 16 examples; near zero, float32 rounding of log-sum-exp is absolute.
        assert loss_c == pytest.approx(loss_p, rel=1e-5, abs=1e-5)
        assert abs(correct_c - correct_p) <= 1  # a tie at float precision may fall either way
    torch.testing.assert_close(compiled.weight, pytorch.weight, rtol=1e-5, atol=1e-6)
    if bias:
        torch.testing.assert_close(compiled.bias, pytorch.bias, rtol=1e-5, atol=1e-6)
    assert compiled.results[-1][1] > 0.5 * 11  # it learned: most of the last 11 are right


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
        engine.step_rows(split, torch.tensor(index), torch.tensor(labels))
    assert torch.equal(engine.weight, before)


def test_wrong_dtypes_are_refused_not_misread(step):
    images, labels = make_images(20, 10)
    split = InMemorySplit(images, labels)
    engine, _ = engine_pair()
    with pytest.raises(ValueError, match="index must be contiguous torch.int64"):
        engine.step_rows(split, torch.arange(4, dtype=torch.int32), split.labels[:4])
    with pytest.raises(ValueError, match="labels must be contiguous"):
        engine.step_rows(split, torch.arange(0, 8, 2), split.labels[0:8:2])


def test_non_finite_weights_give_a_non_finite_loss(step):
    images, labels = make_images(20, 10)
    split = InMemorySplit(images, labels)
    engine, _ = engine_pair()
    with torch.no_grad():
        engine.weight[3, 100] = float("nan")
    loss, _ = engine.step_rows(split, torch.arange(8), split.labels[:8])
    assert loss != loss  # NaN: the trainer stops on it with its divergence message


def test_float64_weights_run_the_pytorch_form(step):
    model = build_model().double()
    engine = FusedEngine(model, SGDParams(model.parameters(), 0.1))
    assert not engine.uses_compiled_step
    with pytest.raises(ConfigError, match="not available"):
        FusedEngine(model, SGDParams(model.parameters(), 0.1), compiled=True)
    images, labels = make_images(20, 10)
    loss, _ = engine.step_rows(InMemorySplit(images, labels), torch.arange(8), torch.ones(8).long())
    assert loss > 0


def test_a_missing_or_stale_library_falls_back_to_pytorch(tmp_path, monkeypatch):
    stale = tmp_path / "_fused_step.so"
    stale.write_bytes(b"not a shared library")
    for path in (None, stale):
        monkeypatch.setattr(kernel, "library_path", lambda path=path: path)
        kernel.compiled_step.cache_clear()
        try:
            assert kernel.compiled_step() is None
            model = build_model()
            assert not FusedEngine(model, SGDParams(model.parameters(), 0.1)).uses_compiled_step
        finally:
            kernel.compiled_step.cache_clear()


def test_engines_in_two_threads_get_their_own_results(step):
    """The compiled step runs without the GIL: two engines stepping at once in two threads
    (a server, a threaded grid search) must each get their own loss and correct count."""
    import threading

    def steps(engine, split, seed):
        gen = torch.Generator().manual_seed(seed)
        batches = list(split.index_batches(4, gen)) * 6
        return [engine.step_rows(split, index, y) for index, y in batches]

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
