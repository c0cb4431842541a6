"""The curves figure: the rehearsed layout gives the very same files, in the worker too."""

import pytest

from softmaxreg.views.plots import CurvesWorker, rehearse_curves, save_curves

NAMES = ("curves.svg", "curves.png")


def history(n):
    return [
        {
            "epoch": e,
            "train_loss": 0.9 - 0.04 * e,
            "train_acc": 0.7 + 0.01 * e,
            "test_acc": 0.69 + 0.012 * e,
        }
        for e in range(1, n + 1)
    ]


@pytest.mark.parametrize("epochs", [3, 10, 120])
def test_rehearsed_margins_draw_the_same_figure_as_tight_layout(tmp_path, epochs):
    done = history(min(epochs, 10))  # a run may stop early: the axes still span every epoch
    save_curves(done, [tmp_path / "tight" / n for n in NAMES], epochs)
    save_curves(done, [tmp_path / "rehearsed" / n for n in NAMES], epochs, rehearse_curves(epochs))
    for name in ("curves.svg", "curves.png"):
        assert (tmp_path / "tight" / name).read_bytes() == (
            tmp_path / "rehearsed" / name
        ).read_bytes()


@pytest.mark.parametrize("rehearsed_for", [10, 7])  # 7: the job differs, tight_layout again
def test_worker_draws_what_the_parent_would(tmp_path, rehearsed_for):
    save_curves(history(10), [tmp_path / "here" / n for n in NAMES], 10)
    worker = CurvesWorker(rehearsed_for)
    try:
        paths = worker(history(10), [tmp_path / "worker" / n for n in NAMES], 10)
    finally:
        worker.close()
    assert [p.name for p in paths] == ["curves.svg", "curves.png"]
    assert worker.proc.returncode == 0
    for name in ("curves.svg", "curves.png"):
        assert (tmp_path / "worker" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
