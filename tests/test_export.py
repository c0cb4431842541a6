"""softmaxreg export RUN --onnx FILE, checked the way a user of the file would: with
onnxruntime, on the whole Fashion-MNIST test set, against softmaxreg's own Classifier.

Tolerances come from float32 arithmetic, not from a run: a logit is a sum of n = H*W + 1
float32 products, and any summation order (numpy's BLAS, onnxruntime's MLAS) is within
gamma_n * sum|w_i x_i| of the exact value (gamma_n = n u / (1 - n u), u = 2^-24), so the two
differ by at most twice that. A logit error of at most D moves each probability by a factor
within exp(+-2D); the softmax's own rounding adds u |z - max z| from rounding the shifted
logit before exp, and a few u for exp, the sum over the classes and the division.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import softmaxreg
from helpers import IN_CI, assert_clean_error, run_cli, write_dataset
from softmaxreg.inference import Classifier
from softmaxreg.inference.export import export_onnx
from softmaxreg.records import LinearWeights

if IN_CI:  # make test installs the `onnx` extra: missing, it is a failure, not a skip
    import onnx
    import onnxruntime as ort
else:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")

U = 2.0**-24  # float32's unit roundoff
TINY = float(np.finfo(np.float32).tiny)  # below it (subnormal) a probability has no precision


def logit_bound(clf: Classifier, x: np.ndarray) -> np.ndarray:
    """Per logit: how far two correct float32 evaluations of x W^T + b may differ."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    terms = np.abs(flat) @ np.abs(clf.weight.astype(np.float64)).T + np.abs(clf.bias)
    n = flat.shape[1] + 1
    return 2 * (n * U / (1 - n * U)) * terms


def assert_probabilities_close(p, reference_logits, reference_p, logit_error):
    shifted = reference_logits - reference_logits.max(axis=1, keepdims=True)
    classes = reference_logits.shape[1]
    rel = (
        np.expm1(2 * logit_error.max(axis=1, keepdims=True))
        + 2 * U * np.abs(shifted)
        + 2 * (classes + 8) * U
    )
    excess = np.abs(p.astype(np.float64) - reference_p) - (rel * reference_p + TINY)
    assert excess.max() <= 0, f"probabilities differ beyond float32 rounding by {excess.max()}"


def book_tensors(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) as the book's tensors: float32 (N, 1, H, W) in [0, 1]."""
    return (images.astype(np.float32) / np.float32(255))[:, None]


@pytest.fixture(scope="module")
def exported(real_data, tmp_path_factory):
    """A model trained here on Fashion-MNIST and exported through the command line."""
    folder = tmp_path_factory.mktemp("export")
    run = folder / "run"
    softmaxreg.train(out=str(run), epochs=2)
    path = folder / "fashion.onnx"
    rc, out, err = run_cli("export", run, "--onnx", path)
    assert rc == 0, err
    assert out.startswith(f"wrote {path}: input 'images' float32 (N, 1, 28, 28)"), out
    return run, path


@pytest.fixture(scope="module")
def session(exported):
    return ort.InferenceSession(str(exported[1]))


def test_same_predictions_and_probabilities_on_the_whole_test_set(exported, session, real_data):
    run, _ = exported
    clf = Classifier.load(run)
    x = book_tensors(real_data.test_images)
    logits, p = session.run(["logits", "probabilities"], {"images": x})
    want_logits = clf.decision_function(real_data.test_images).astype(np.float64)
    want_p = clf.predict_proba(real_data.test_images).astype(np.float64)

    bound = logit_bound(clf, x)
    assert np.all(np.abs(logits - want_logits) <= bound)
    assert_probabilities_close(p, want_logits, want_p, bound)

    # Where the top two logits are further apart than the logits' error, the class is
    # decided; otherwise onnxruntime must pick one of the classes tied within that error.
    top = want_logits.max(axis=1, keepdims=True)
    tied = want_logits >= top - 2 * bound.max(axis=1, keepdims=True)
    predicted, want = p.argmax(axis=1), clf.predict(real_data.test_images)
    decided = tied.sum(axis=1) == 1
    assert np.array_equal(predicted[decided], want[decided])
    assert tied[np.arange(len(p)), predicted].all()
    accuracy = (predicted == real_data.test_labels).mean()
    assert abs(accuracy - clf.score(real_data.test_images, real_data.test_labels)) <= (
        (~decided).mean()
    )
    assert accuracy > 0.75  # two epochs of the book's settings: about 0.80


def test_inputs_and_outputs_as_a_user_finds_them(session, exported):
    (images,) = session.get_inputs()
    assert (images.name, images.type, images.shape) == (
        "images",
        "tensor(float)",
        ["batch", 1, 28, 28],
    )
    outputs = {o.name: (o.type, o.shape) for o in session.get_outputs()}
    assert outputs == {
        "logits": ("tensor(float)", ["batch", 10]),
        "probabilities": ("tensor(float)", ["batch", 10]),
    }
    model = onnx.load(str(exported[1]))
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 13)]
    assert model.producer_name == "softmaxreg"


def test_metadata_names_the_classes_and_where_the_model_came_from(session, exported, real_data):
    run, _ = exported
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == list(real_data.classes)
    assert json.loads(meta["image_shape"]) == [28, 28]
    assert meta["softmaxreg_version"] == softmaxreg.__version__
    assert meta["dataset"] == "fashion-mnist"
    assert json.loads(meta["settings"])["epochs"] == 2
    record = json.loads((run / "config.json").read_text())
    assert meta["created"] == record["created"]
    final = softmaxreg.RunDir(run).history()[-1]
    assert json.loads(meta["final_epoch"])["test_acc"] == pytest.approx(final.test_acc)
    assert meta["finished"] == "true"
    assert "[0, 1]" in meta["input"]


def test_a_batch_of_one_and_of_many(session, exported, real_data):
    clf = Classifier.load(exported[0])
    x = book_tensors(real_data.test_images[:300])
    for rows in (slice(0, 1), slice(1, 2), slice(0, 300), slice(7, 8), slice(10, 73)):
        # the simple call a user writes: one output, a batch of any size
        (p,) = session.run(["probabilities"], {"images": x[rows]})
        assert p.shape == (len(x[rows]), 10)
        want = clf.predict_proba(x[rows]).astype(np.float64)
        want_logits = clf.decision_function(x[rows]).astype(np.float64)
        assert_probabilities_close(p, want_logits, want, logit_bound(clf, x[rows]))
    assert session.run(None, {"images": x[:0]})[1].shape == (0, 10)


def test_softmax_is_stable_where_exp_would_overflow(tmp_path):
    """Logits in the tens of thousands: exp overflows float32 above 88, so a softmax that did
    not subtract the row's maximum first would answer inf/inf = NaN."""
    from onnx.reference import ReferenceEvaluator

    rng = np.random.default_rng(0)
    weights = LinearWeights(
        weight=(rng.normal(0, 1000, (4, 64))).astype(np.float32),
        bias=np.zeros(4, np.float32),
        classes=("a", "b", "c", "d"),
        image_shape=(8, 8),
    )
    clf = Classifier(weights)
    path = export_onnx(clf, tmp_path / "steep.onnx")
    x = rng.random((50, 1, 8, 8), dtype=np.float32)
    logits = clf.decision_function(x)
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(logits.max()))  # the case is real
    runtimes = {
        "onnxruntime": ort.InferenceSession(str(path)).run(None, {"images": x}),
        "onnx reference": ReferenceEvaluator(str(path)).run(None, {"images": x}),
    }
    for name, (_, p) in runtimes.items():
        assert np.isfinite(p).all(), name
        bound = logit_bound(clf, x)
        assert_probabilities_close(p, logits.astype(np.float64), clf.predict_proba(x), bound)


@pytest.fixture
def small_run(tmp_path):
    run = tmp_path / "run"
    softmaxreg.train(
        out=str(run), dataset="idx", data_dir=str(write_dataset(tmp_path / "d")), epochs=1
    )
    return run


def test_an_unfinished_run_exports_its_last_checkpoint(small_run, tmp_path):
    (small_run / "model.safetensors").unlink()
    rc, out, err = run_cli("export", small_run, "--onnx", tmp_path / "m.onnx")
    assert rc == 0, err
    assert "an unfinished run: its last checkpoint" in out
    meta = ort.InferenceSession(str(tmp_path / "m.onnx")).get_modelmeta().custom_metadata_map
    assert meta["finished"] == "false"
    assert json.loads(meta["final_epoch"])["epoch"] == 1
    assert json.loads(meta["classes"]) == ["0", "1", "2"]


def test_a_model_file_exports_and_replaces_an_older_export(small_run, tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"an older export")
    export_onnx(small_run / "model.safetensors", path)
    session = ort.InferenceSession(str(path))
    meta = session.get_modelmeta().custom_metadata_map
    assert "created" not in meta  # a model file alone has no run record
    assert meta["dataset"] == "idx"
    x = np.random.default_rng(1).random((5, 1, 28, 28), dtype=np.float32)
    clf = Classifier.load(small_run)
    (p,) = session.run(["probabilities"], {"images": x})
    assert_probabilities_close(
        p, clf.decision_function(x).astype(np.float64), clf.predict_proba(x), logit_bound(clf, x)
    )
    assert sorted(q.name for q in tmp_path.iterdir()) == ["d", "m.onnx", "run"]  # no temporary


def test_without_the_onnx_package_one_line_says_what_to_install(small_run, tmp_path):
    """Nothing written, an older export left as it was."""
    path = tmp_path / "m.onnx"
    path.write_bytes(b"an older export")
    code = (
        "import sys\n"
        "sys.modules['onnx'] = None  # as if not installed: importing it raises ImportError\n"
        "from softmaxreg.cli import main\n"
        f"sys.exit(main(['export', {str(small_run)!r}, '--onnx', {str(path)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert_clean_error(proc.returncode, proc.stdout, proc.stderr, "pip install 'softmaxreg[onnx]'")
    assert path.read_bytes() == b"an older export"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["d", "m.onnx", "run"]


def test_after_early_stopping_the_metadata_describes_the_kept_epoch(small_run, tmp_path):
    """model.safetensors holds the kept (best) epoch's weights: the file's metrics are that
    epoch's, not the last one trained."""
    from softmaxreg.records.modelfile import model_bytes, read_model

    weights = read_model(small_run / "model.safetensors")
    last = {"epoch": 5, "train_loss": 0.2, "train_acc": 0.9, "test_acc": 0.80, "seconds": 0.1}
    kept = {**last, "epoch": 3, "test_acc": 0.85, "val_loss": 0.3, "val_acc": 0.86}
    weights.meta = {**weights.meta, "final": last, "kept_epoch": 3, "kept": kept}
    model = tmp_path / "early.safetensors"
    model.write_bytes(model_bytes(weights))
    path = export_onnx(model, tmp_path / "early.onnx")
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["final_epoch"]) == kept
    assert json.loads(meta["kept_epoch"]) == 3


def test_export_checks_the_onnx_path_once(small_run, tmp_path, monkeypatch):
    from softmaxreg.cli import main
    from softmaxreg.inference import export

    calls = []
    real = export.check_onnx_path
    monkeypatch.setattr(export, "check_onnx_path", lambda path: calls.append(path) or real(path))
    assert main(["export", str(small_run), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert len(calls) == 1
