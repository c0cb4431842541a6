"""A validation split held out of the training set, and early stopping on its loss."""

import json
import math

import numpy as np
import pytest
from safetensors.numpy import load_file

import softmaxreg
from helpers import metrics_rows, run_cli, same_model, train_until
from softmaxreg.config import TrainConfig
from softmaxreg.data.splits import holdout_rows
from softmaxreg.errors import ConfigError
from softmaxreg.records import RunDir
from softmaxreg.training.runner import resume_run, train_run
from softmaxreg.views.plots import save_curves

BOOK_COLUMNS = "epoch,train_loss,train_acc,test_acc,seconds"


def test_holdout_is_seeded_disjoint_and_sized_like_train_test_split():
    train, held = holdout_rows(1000, 0.15, seed=3)
    assert len(held) == 150 and len(train) == 850  # ceil(0.15 * 1000), as scikit-learn
    assert len(holdout_rows(1001, 0.15, seed=3)[1]) == 151
    assert np.array_equal(np.sort(np.concatenate([train, held])), np.arange(1000))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(held) > 0)  # the data set's order
    again_train, again_held = holdout_rows(1000, 0.15, seed=3)
    assert np.array_equal(held, again_held) and np.array_equal(train, again_train)
    assert not np.array_equal(held, holdout_rows(1000, 0.15, seed=4)[1])
    with pytest.raises(ConfigError, match="val_fraction 0.99 of 50 training examples"):
        holdout_rows(50, 0.99, seed=0)


def test_early_stop_alone_is_refused_naming_both_settings():
    with pytest.raises(
        ConfigError, match="early_stop .* needs a validation split: add val_fraction"
    ):
        TrainConfig(early_stop=3)


def test_a_run_without_validation_keeps_its_columns_and_numbers(real_data, tmp_path):
    result = train_run(TrainConfig(epochs=1), tmp_path / "run", dataset=real_data)
    assert (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0] == BOOK_COLUMNS
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "best_val_epoch" not in saved and "val_loss" not in saved["final"]
    assert "validation" not in json.loads((tmp_path / "run" / "config.json").read_text())
    # the seed run's first epoch, as the README shows it
    first = result.history[0]
    assert (first.train_loss, first.train_acc, first.test_acc) == pytest.approx(
        (0.7839, 0.7521, 0.7836), abs=6e-5
    )


def test_validation_metrics_are_those_of_the_held_out_rows(real_data, tmp_path):
    run = tmp_path / "run"
    result = train_run(TrainConfig(epochs=2, val_fraction=0.1), run, dataset=real_data)
    assert (run / "metrics.csv").read_text().splitlines()[0] == BOOK_COLUMNS + ",val_loss,val_acc"
    record = json.loads((run / "config.json").read_text())
    assert record["config"]["val_fraction"] == 0.1
    assert record["validation"]["examples"] == 6000
    assert record["validation"]["training_examples"] == 54000
    # The held-out rows scored independently (numpy, the saved model) give the same numbers.
    _, held = holdout_rows(60000, 0.1, seed=0)
    clf = softmaxreg.load(run)
    proba = clf.predict_proba(real_data.train_images[held])
    labels = real_data.train_labels[held].astype(int)
    last = result.history[-1]
    assert last.val_loss == pytest.approx(-np.log(proba[np.arange(len(held)), labels]).mean(), 1e-4)
    assert last.val_acc == pytest.approx(np.mean(proba.argmax(1) == labels), abs=1e-9)
    assert clf.score(real_data.test_images, real_data.test_labels) == pytest.approx(last.test_acc)


@pytest.fixture(scope="module")
def stopped_early(real_data, tmp_path_factory):
    """lr 1 swings the validation loss from epoch to epoch: patience 2 stops well before 30."""
    run = tmp_path_factory.mktemp("early") / "run"
    config = TrainConfig(epochs=30, lr=1.0, val_fraction=0.1, early_stop=2)
    return train_run(config, run, dataset=real_data)


def test_early_stopping_stops_after_patience_and_keeps_the_best_epoch(stopped_early, real_data):
    history, best = stopped_early.history, stopped_early.kept_epoch
    losses = [r.val_loss for r in history]
    assert stopped_early.stopped_early and len(history) < 30
    assert best == 1 + losses.index(min(losses))
    assert len(history) == best + 2  # two epochs in a row without improvement, then stop
    assert all(loss > losses[best - 1] for loss in losses[best:])
    run = stopped_early.run
    model = softmaxreg.load(run.file(RunDir.MODEL))
    assert model.meta["kept_epoch"] == best and model.meta["kept"]["epoch"] == best
    images, labels = real_data.test_images, real_data.test_labels
    assert model.score(images, labels) == pytest.approx(history[best - 1].test_acc)
    last = softmaxreg.load(run.file(RunDir.CHECKPOINT))  # the checkpoint keeps the last state
    assert last.score(images, labels) == pytest.approx(history[-1].test_acc)
    assert json.loads(run.file(RunDir.METRICS_JSON).read_text())["best_val_epoch"] == best


def test_a_run_killed_after_its_early_stop_resumes_to_the_same_model(stopped_early, tmp_path):
    """Killed after the last checkpoint but before the model was written: resuming trains no
    further epoch and writes the same best weights."""
    import shutil

    copy = shutil.copytree(stopped_early.path, tmp_path / "copy")
    (copy / "model.safetensors").unlink()
    resumed = resume_run(copy)
    assert len(resumed.history) == len(stopped_early.history)
    assert resumed.kept_epoch == stopped_early.kept_epoch
    a = load_file(stopped_early.path / "model.safetensors")
    b = load_file(copy / "model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_stop_and_resume_with_validation_and_early_stop_is_identical(real_data, tmp_path):
    config = TrainConfig(epochs=4, val_fraction=0.2, early_stop=3, seed=5)
    whole = train_run(config, tmp_path / "whole", dataset=real_data)
    train_until(config, tmp_path / "part", 3, 50, real_data)
    resumed = resume_run(tmp_path / "part")
    assert metrics_rows(whole.path) == metrics_rows(resumed.path)
    assert same_model(whole.path, resumed.path)


def test_the_figure_and_the_report_mark_the_best_epoch(stopped_early, tmp_path):
    best = stopped_early.kept_epoch
    svg = save_curves(stopped_early.history, [tmp_path / "curves.svg"], 30)[0].read_text()
    for needle in ("val loss", "val acc", f"best epoch ({best})"):
        assert needle in svg, needle
    plain = [
        {k: v for k, v in r.as_dict().items() if not k.startswith("val")}
        for r in stopped_early.history
    ]
    assert "best epoch" not in save_curves(plain, [tmp_path / "plain.svg"], 30)[0].read_text()
    rc, out, err = run_cli("report", stopped_early.path)
    assert rc == 0, err
    page = (stopped_early.path / "report.html").read_text()
    assert f"Lowest validation loss at <b>epoch {best}</b>" in page
    assert f"model.safetensors holds epoch {best}'s weights" in page
    assert page.count("<tr class='best'") == 1
    assert f"<tr class='best' title='lowest validation loss'><td>{best}</td>" in page


def test_train_says_which_epoch_it_kept(tiny_dir, tmp_path):
    rc, out, err = run_cli(
        "train",
        "--dataset",
        "idx",
        "--data-dir",
        tiny_dir,
        "--epochs",
        "4",
        "--val-fraction",
        "0.25",
        "--early-stop",
        "10",
        "--out",
        tmp_path / "run",
    )
    assert rc == 0, err
    lines = out.splitlines()
    assert all("val loss" in line and "val acc" in line for line in lines[:4])
    kept = json.loads((tmp_path / "run" / "metrics.json").read_text())["best_val_epoch"]
    assert f"model.safetensors holds epoch {kept}'s weights" in lines[4]
    assert "did not stop the 4 epochs" in lines[4]
    assert math.isfinite(float(lines[-1].split("test acc ")[1].split(";")[0]))


def test_the_curves_of_an_early_stopped_run_span_the_epochs_it_trained(stopped_early, tmp_path):
    """Not the 30 asked for: the figure ends where training did (and the losses of lr 1,
    above the book's 0.9, are on it: see test_plots)."""
    trained = len(stopped_early.history)
    expected = save_curves(stopped_early.history, [tmp_path / "curves.svg"], trained)[0]
    assert (stopped_early.path / "curves.svg").read_bytes() == expected.read_bytes()
