"""evaluate() scores a split a chunk at a time (a memory-mapped split may be far larger than
memory, and the model's float32 input is 4x its bytes): the same results at any chunk size."""

import numpy as np
import pytest

from softmaxreg.inference import Classifier
from softmaxreg.inference.evaluation import evaluate
from softmaxreg.inference.metrics import confusion_matrix
from softmaxreg.records import LinearWeights


@pytest.fixture
def case():
    rng = np.random.default_rng(7)
    weights = LinearWeights(
        weight=rng.normal(0, 0.05, (5, 64)).astype(np.float32),
        bias=rng.normal(0, 0.1, 5).astype(np.float32),
        classes=("a", "b", "c", "d", "e"),
        image_shape=(8, 8),
    )
    # 60 distinct pictures, each seen 17 times: equally confident mistakes in every chunk.
    images = np.tile(rng.integers(0, 256, (60, 8, 8), dtype=np.uint8), (17, 1, 1))
    labels = rng.integers(0, 5, len(images))
    return Classifier(weights), images, labels


def whole_split(clf, images, labels, top):
    """The evaluation as it was computed before chunks: one predict_proba over everything."""
    proba = clf.predict_proba(images)
    pred = proba.argmax(axis=1)
    wrong = np.flatnonzero(pred != labels)
    order = wrong[np.argsort(-proba[wrong, pred[wrong]], kind="stable")][:top]
    mistakes = [(int(i), int(pred[i]), float(proba[i, pred[i]])) for i in order]
    return confusion_matrix(labels, pred, 5), float((pred == labels).mean()), mistakes


@pytest.mark.parametrize("chunk_rows", [1, 97, 1020, 5000])
def test_chunks_give_the_evaluation_of_the_whole_split(case, chunk_rows, monkeypatch):
    clf, images, labels = case
    confusion, accuracy, mistakes = whole_split(clf, images, labels, top=40)
    seen = []
    predict_proba = clf.predict_proba
    monkeypatch.setattr(clf, "predict_proba", lambda x: seen.append(len(x)) or predict_proba(x))
    ev = evaluate(clf, images, labels, "test", top_mistakes=40, chunk_rows=chunk_rows)
    assert max(seen) == min(chunk_rows, len(images)) and sum(seen) == len(images)
    np.testing.assert_array_equal(ev.confusion, confusion)
    assert ev.accuracy == accuracy
    # The same mistakes in the same order; a probability to float32 rounding, since a BLAS may
    # round a product of one row differently from the same row among many.
    got = [(m["index"], clf.classes.index(m["predicted"])) for m in ev.mistakes]
    assert got == [(i, predicted) for i, predicted, _ in mistakes]
    probabilities = [m["probability"] for m in ev.mistakes]
    assert probabilities == pytest.approx([p for _, _, p in mistakes], rel=1e-6)
    assert all(m["true"] == clf.classes[labels[m["index"]]] for m in ev.mistakes)
