"""The fused step on float32 rows (the estimator's entry point), with weights per example, and
its numpy form: both forms against a float64 reference written from the formulas, against each
other, and the uint8 entry point against the float32 one (one body, so bit for bit).

The engines' uint8 step keeps its own tests (test_kernel.py, test_engines.py); none of these
need torch."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import IN_CI, make_images
from softmaxreg import kernel
from softmaxreg.kernel import CompiledStep, NumpyStep


def compiled_step() -> CompiledStep:
    step = kernel.load_compiled_step()
    if step is None:
        if IN_CI:
            pytest.fail("CI=true and the compiled fused step was not built")
        pytest.skip("the compiled fused step was not built (no C compiler at install time)")
    return step


@pytest.fixture(params=["compiled", "numpy"])
def step(request):
    return compiled_step() if request.param == "compiled" else NumpyStep()


def problem(rows=61, inputs=13, classes=5, seed=0):
    """Float features of mixed sign and scale, labels, weights, and small starting weights."""
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(rows, inputs)) * rng.uniform(0.1, 3, inputs)).astype(np.float32)
    y = rng.integers(0, classes, rows).astype(np.int64)
    sw = rng.uniform(0, 3, rows).astype(np.float32)
    W = (rng.normal(size=(classes, inputs)) * 0.3).astype(np.float32)
    b = (rng.normal(size=classes) * 0.3).astype(np.float32)
    return X, y, sw, W, b


def reference(X, y, sw, W, b, index, scale, norm):
    """Loss sum, correct count and gradients in float64, straight from the formulas."""
    x = X[index].astype(np.float64) * scale
    z = x @ W.astype(np.float64).T + (0 if b is None else b.astype(np.float64))
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    t = y[index]
    w = np.ones(len(index)) if sw is None else sw[index].astype(np.float64)
    loss = float((w * -np.log(p[np.arange(len(index)), t])).sum())
    correct = int((z.argmax(axis=1) == t).sum())
    g = p.copy()
    g[np.arange(len(index)), t] -= 1
    g *= (w / norm)[:, None]
    return loss, correct, g.T @ x, g.sum(axis=0)


def call(step, X, y, W, b, index, *, scale=1.0, lr=0.5, apply=False, norm=None, sw=None):
    grad_w, grad_b = np.zeros_like(W), np.zeros(W.shape[0], np.float32)
    work = step.workspace(W.shape[1], W.shape[0])
    result = step(
        X,
        index,
        y[index],
        W,
        b,
        grad_w,
        grad_b,
        work,
        scale=scale,
        lr=lr,
        apply=apply,
        norm=norm,
        sample_weight=sw,
    )
    return result, grad_w, grad_b


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("rows", [1, 8, 23])  # one example, one whole block, blocks + a rest
def test_gradient_and_loss_match_the_formulas(step, weighted, bias, rows):
    X, y, sw, W, b = problem()
    sw = sw if weighted else None
    b = b if bias else None
    index = np.random.default_rng(1).choice(len(X), rows, replace=False).astype(np.int64)
    norm = rows + 3  # a share of a larger global batch
    (loss, correct), grad_w, grad_b = call(step, X, y, W, b, index, scale=0.7, norm=norm, sw=sw)
    want_loss, want_correct, want_w, want_b = reference(X, y, sw, W, b, index, 0.7, norm)
    # float32 arithmetic against float64: a few ulps of float32 on values of order 1.
    assert loss == pytest.approx(want_loss, rel=1e-5)
    assert correct == want_correct
    np.testing.assert_allclose(grad_w, want_w, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grad_b, want_b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("apply", [True, False])
def test_compiled_and_numpy_forms_agree_over_steps(weighted, apply):
    compiled, numpy_form = compiled_step(), NumpyStep()
    X, y, sw, W0, b0 = problem(rows=203, inputs=40, classes=7)
    sw = sw if weighted else None
    results = {}
    for form in (compiled, numpy_form):
        W, b = W0.copy(), b0.copy()
        order = np.random.default_rng(2).permutation(len(X)).astype(np.int64)
        losses = []
        for start in range(0, len(X), 16):
            index = order[start : start + 16]
            (loss, correct), grad_w, grad_b = call(
                form, X, y, W, b, index, lr=0.1, apply=apply, sw=sw
            )
            if not apply:  # the caller's own update, as the estimator's momentum does
                W -= 0.1 * grad_w
                b -= 0.1 * grad_b
            losses.append((loss, correct))
        results[form] = (losses, W, b)
    (loss_c, W_c, b_c), (loss_n, W_n, b_n) = results[compiled], results[numpy_form]
    for (lc, cc), (ln, cn) in zip(loss_c, loss_n, strict=True):
        assert lc == pytest.approx(ln, rel=1e-5, abs=1e-5)
        assert abs(cc - cn) <= 1  # a tie at float precision may fall either way
    # 13 steps at lr 0.1 on features of scale up to 3: rounding grows little; both sum in
    # different orders, so they agree to float32 precision, not bit for bit.
    np.testing.assert_allclose(W_c, W_n, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b_c, b_n, rtol=1e-5, atol=1e-6)
    assert loss_c[-1][0] < loss_c[0][0]  # it learned


@pytest.mark.parametrize("apply", [True, False])
def test_uint8_and_float32_entry_points_share_their_arithmetic(apply):
    """The same pixels as uint8 and as float32 values 0..255: one body, bit for bit."""
    step = compiled_step()
    images, labels = make_images(77, 10, seed=4)
    pixels = images.reshape(77, -1)
    rows = {"uint8": pixels, "float32": pixels.astype(np.float32)}
    y = labels.astype(np.int64)
    out = {}
    for name, X in rows.items():
        W = np.random.default_rng(5).normal(0, 0.01, (10, 784)).astype(np.float32)
        b = np.zeros(10, np.float32)
        index = np.random.default_rng(6).permutation(77).astype(np.int64)
        (loss, correct), grad_w, grad_b = call(
            step, X, y, W, b, index, scale=1 / 255, lr=0.1, apply=apply
        )
        out[name] = (loss, correct, grad_w, grad_b, W, b)
    for a, b_ in zip(out["uint8"], out["float32"], strict=True):
        np.testing.assert_array_equal(a, b_)


def test_weights_of_one_are_no_weights_bit_for_bit(step):
    X, y, _, W, b = problem()
    index = np.arange(30, dtype=np.int64)
    ones = np.ones(len(X), np.float32)
    plain = call(step, X, y, W, b, index)
    weighted = call(step, X, y, W, b, index, sw=ones)
    assert plain[0] == weighted[0]
    np.testing.assert_array_equal(plain[1], weighted[1])
    np.testing.assert_array_equal(plain[2], weighted[2])


def test_a_zero_weight_leaves_an_example_out_and_a_weight_of_two_counts_it_twice(step):
    X, y, sw, W, b = problem()
    sw = np.ones(len(X), np.float32)
    sw[[3, 9]] = 0
    sw[5] = 2
    index = np.arange(12, dtype=np.int64)
    (loss, _), grad_w, grad_b = call(step, X, y, W, b, index, norm=12, sw=sw)
    kept = np.array([0, 1, 2, 4, 5, 5, 6, 7, 8, 10, 11], dtype=np.int64)  # 5 twice, 3 and 9 out
    (want, _), want_w, want_b = call(step, X, y, W, b, kept, norm=12)
    assert loss == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(grad_w, want_w, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grad_b, want_b, rtol=1e-5, atol=1e-7)


def test_weights_need_float32_rows_of_the_right_shape(step):
    X, y, sw, W, b = problem()
    index = np.arange(4, dtype=np.int64)
    with pytest.raises(ValueError, match="sample_weight needs float32 rows"):
        call(step, X.astype(np.uint8), y, W, b, index, sw=sw)
    with pytest.raises(ValueError, match="sample_weight must be float32"):
        call(step, X, y, W, b, index, sw=sw.astype(np.float64))
    with pytest.raises(ValueError, match="sample_weight must have shape"):
        call(step, X, y, W, b, index, sw=sw[:-1])


@pytest.mark.parametrize(
    "index, labels, message",
    [
        ([0, 5, 61], [1, 2, 3], "batch index is outside"),
        ([0, -1, 2], [1, 2, 3], "batch index is outside"),
        ([0, 1, 2], [1, 5, 3], "label is outside"),
        ([0, 1, 2], [1, -1, 3], "label is outside"),
    ],
)
def test_bad_rows_or_labels_raise_and_write_nothing(step, index, labels, message):
    X, _, _, W, b = problem()
    W0, b0 = W.copy(), b.copy()
    grad_w, grad_b = np.zeros_like(W), np.zeros_like(b)
    with pytest.raises(ValueError, match=message):
        step(
            X,
            np.array(index, np.int64),
            np.array(labels, np.int64),
            W,
            b,
            grad_w,
            grad_b,
            step.workspace(W.shape[1], W.shape[0]),
            scale=1.0,
            lr=0.1,
            apply=True,
        )
    np.testing.assert_array_equal(W, W0)
    np.testing.assert_array_equal(b, b0)


SPOILED = [
    ("images", "float64"),
    ("images", "strided"),
    ("index", "int32"),
    ("labels", "shape"),
    ("weight", "read-only"),
    ("bias", "float64"),
    ("grad_w", "strided"),
    ("grad_b", "read-only"),
]


@pytest.mark.parametrize("name, how", SPOILED)
def test_both_forms_check_every_buffer_alike(name, how):
    """The numpy form refuses what the compiled one refuses, with the same message."""
    messages = []
    for form in (compiled_step(), NumpyStep()):
        X, y, _, W, b = problem()
        args = {
            "images": X,
            "index": np.arange(4, dtype=np.int64),
            "labels": y[:4].copy(),
            "weight": W,
            "bias": b,
            "grad_w": np.zeros_like(W),
            "grad_b": np.zeros_like(b),
            "work": form.workspace(W.shape[1], W.shape[0]),
        }
        a = args[name]
        args[name] = {
            "float64": lambda a: a.astype(np.float64),
            "int32": lambda a: a.astype(np.int32),
            "strided": lambda a: np.repeat(a, 2, axis=-1)[..., ::2],
            "shape": lambda a: a[None],
            "read-only": lambda a: np.lib.stride_tricks.as_strided(a, writeable=False),
        }[how](a)
        with pytest.raises(ValueError, match=f"fused step: {name} must") as error:
            form(**args, scale=1.0, lr=0.1, apply=True)
        messages.append(str(error.value))
    assert messages[0] == messages[1]


def test_without_the_library_load_step_gives_the_numpy_form(monkeypatch):
    monkeypatch.setattr(kernel, "library_path", lambda: None)
    kernel.load_compiled_step.cache_clear()
    try:
        assert kernel.load_compiled_step() is None
        assert isinstance(kernel.load_step(), NumpyStep)
    finally:
        monkeypatch.undo()
        kernel.load_compiled_step.cache_clear()
    if kernel.library_path() is not None or IN_CI:
        assert isinstance(kernel.load_step(), CompiledStep)
