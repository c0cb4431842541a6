"""The curves figure: the rehearsed layout gives the very same files, in the worker and in
the sweep's drawing service too."""

import multiprocessing

import pytest

from softmaxreg.views.curves_service import CurvesClient, CurvesService
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


def with_val(records):
    return [{**r, "val_loss": 0.8 - 0.01 * r["epoch"], "val_acc": 0.7} for r in records]


def _ask(address, authkey, jobs, out):
    client = CurvesClient(address, authkey)
    for i, (records, epochs) in enumerate(jobs):
        client(records, [f"{out}/{i}/{n}" for n in NAMES], epochs)


def test_the_sweeps_drawing_service_draws_what_each_worker_would(tmp_path):
    """Jobs from two processes at once, for figures of different axes (the margins it keeps
    from one figure must not leak into another): every file equals a local drawing."""
    jobs = [(history(5), 5), (history(10), 10), (with_val(history(5)), 5), (history(3), 5)]
    with CurvesService(rehearse_epochs=5) as service:
        context = multiprocessing.get_context("spawn")
        workers = [
            context.Process(
                target=_ask, args=(service.address, service.authkey, jobs, tmp_path / str(w))
            )
            for w in range(2)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(120)
        assert [w.exitcode for w in workers] == [0, 0]
    for i, (records, epochs) in enumerate(jobs):
        save_curves(records, [tmp_path / "here" / str(i) / n for n in NAMES], epochs)
        for w in range(2):
            for name in NAMES:
                drawn = (tmp_path / str(w) / str(i) / name).read_bytes()
                assert drawn == (tmp_path / "here" / str(i) / name).read_bytes(), (w, i, name)


def test_a_worker_draws_its_curves_itself_when_the_service_is_gone(tmp_path):
    with CurvesService() as service:
        address, authkey = service.address, service.authkey
    client = CurvesClient(address, authkey)
    paths = client(history(4), [tmp_path / n for n in NAMES], 4)
    save_curves(history(4), [tmp_path / "here" / n for n in NAMES], 4)
    assert [p.read_bytes() for p in paths] == [(tmp_path / "here" / n).read_bytes() for n in NAMES]


def test_the_y_range_is_the_books_unless_a_value_lies_outside():
    from softmaxreg.views.plots import curves_figure

    assert curves_figure(history(10), 10).axes[0].get_ylim() == (0.3, 0.9)
    large = [{**r, "train_loss": 5.3 - 0.2 * r["epoch"], "val_loss": 1.4} for r in history(10)]
    low, high = curves_figure(large, 10).axes[0].get_ylim()
    assert low == 0.3 and 5.1 < high < 5.3  # the epoch-1 loss of 5.1, not clipped, a bit above
    small = [{**r, "test_acc": 0.1} for r in history(3)]
    assert curves_figure(small, 3).axes[0].get_ylim()[0] < 0.1


def test_rehearsed_margins_are_not_used_on_a_widened_y_range(tmp_path):
    large = [{**r, "train_loss": 12.0} for r in history(5)]
    save_curves(large, [tmp_path / "tight" / n for n in NAMES], 5)
    save_curves(large, [tmp_path / "rehearsed" / n for n in NAMES], 5, rehearse_curves(5))
    for name in NAMES:
        assert (tmp_path / "tight" / name).read_bytes() == (
            tmp_path / "rehearsed" / name
        ).read_bytes()
