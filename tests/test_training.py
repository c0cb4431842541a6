"""The seed's experiment on the real Fashion-MNIST, reproducibility, resume, divergence."""

import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from helpers import metrics_rows, same_model, train_until
from softmaxreg.config import TrainConfig
from softmaxreg.errors import DivergenceError
from softmaxreg.records import RunDir
from softmaxreg.training.runner import resume_run, train_run
from softmaxreg.training.trainer import TrainingWarning


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seed_run_reaches_the_books_accuracy(real_data, tmp_path, seed):
    result = train_run(TrainConfig(seed=seed), tmp_path / "run", dataset=real_data)
    final = result.history[-1]
    assert len(result.history) == 10
    assert final.train_loss < 0.5
    assert final.train_acc > 0.80
    assert 0.80 < final.test_acc < 0.86
    for name in (
        "config.json",
        "metrics.csv",
        "metrics.json",
        "curves.svg",
        "curves.png",
        "model.safetensors",
        "checkpoint.safetensors",
    ):
        assert (tmp_path / "run" / name).stat().st_size > 0, name
    with open(tmp_path / "run" / "metrics.csv") as f:
        assert f.readline().strip() == "epoch,train_loss,train_acc,test_acc,seconds"


def test_same_seed_gives_identical_metrics_and_weights(real_data, tmp_path):
    a = train_run(TrainConfig(epochs=3), tmp_path / "a", dataset=real_data)
    b = train_run(TrainConfig(epochs=3), tmp_path / "b", dataset=real_data)
    assert metrics_rows(a.path) == metrics_rows(b.path)
    wa, wb = load_file(a.path / "model.safetensors"), load_file(b.path / "model.safetensors")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    c = train_run(TrainConfig(epochs=3, seed=1), tmp_path / "c", dataset=real_data)
    assert not torch.equal(wa["1.weight"], load_file(c.path / "model.safetensors")["1.weight"])


def test_autograd_engine_runs_the_seed_with_the_same_results(real_data, tmp_path):
    fused = train_run(TrainConfig(epochs=2), tmp_path / "f", dataset=real_data)
    auto = train_run(TrainConfig(epochs=2, engine="autograd"), tmp_path / "a", dataset=real_data)
    for f, a in zip(fused.history, auto.history, strict=True):
        assert f.train_loss == pytest.approx(a.train_loss, rel=1e-5)
        assert f.train_acc == pytest.approx(a.train_acc, abs=2e-5)
        assert f.test_acc == pytest.approx(a.test_acc, abs=2e-4)


@pytest.mark.parametrize("epoch, step", [(1, 100), (2, 235), (3, 1)])
def test_stop_and_resume_is_bit_identical(real_data, tmp_path, epoch, step):
    config = TrainConfig(epochs=3, momentum=0.9, schedule="cosine")
    whole = train_run(config, tmp_path / "whole", dataset=real_data)
    train_until(config, tmp_path / "part", epoch, step, real_data)
    assert not (tmp_path / "part" / "model.safetensors").exists()
    resumed = resume_run(tmp_path / "part")
    assert metrics_rows(whole.path) == metrics_rows(resumed.path)
    assert same_model(whole.path, resumed.path)


def test_divergence_stops_with_epoch_and_step(real_data, tmp_path):
    with pytest.raises(DivergenceError, match=r"epoch 1 step \d+ \(learning rate 1e\+38\)"):
        train_run(TrainConfig(lr=1e38, epochs=2), tmp_path / "run", dataset=real_data)
    assert not (tmp_path / "run" / "model.safetensors").exists()


class PoisonAfterFirstEpoch:
    """Makes the weights infinite once epoch 1 has ended (and been saved)."""

    def on_epoch_end(self, trainer, record) -> None:
        if record.epoch == 1:
            with torch.no_grad():
                trainer.model[1].weight.fill_(float("inf"))


def test_divergence_after_an_epoch_says_which_weights_the_checkpoint_keeps(tiny_dir, tmp_path):
    config = TrainConfig(dataset="idx", data_dir=str(tiny_dir), epochs=3, batch_size=16)
    with pytest.raises(DivergenceError) as caught:
        train_run(config, tmp_path / "late", callbacks=[PoisonAfterFirstEpoch()])
    assert "epoch 2 step 1" in str(caught.value)
    assert "the checkpoint keeps epoch 1's weights" in str(caught.value)
    arrays, meta = RunDir(tmp_path / "late").read_checkpoint()
    assert len(meta["history"]) == 1 and np.isfinite(arrays["model.1.weight"]).all()
    with pytest.raises(DivergenceError, match="no epoch was completed, so no weights are kept"):
        train_run(config.replace(lr=1e38), tmp_path / "early")


def test_too_large_learning_rate_warns_once_but_trains(real_data, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train_run(TrainConfig(lr=1e4, epochs=2), tmp_path / "run", dataset=real_data)
    messages = [str(w.message) for w in caught if issubclass(w.category, TrainingWarning)]
    assert len(messages) == 1 and "learning rate 10000" in messages[0]
    assert all(r.train_loss > 100 for r in result.history)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tuned_recipe_reaches_0845_whatever_the_seed(real_data, tmp_path, seed):
    config = TrainConfig.from_recipe("tuned", seed=seed)
    result = train_run(config, tmp_path / "run", dataset=real_data)
    assert result.history[-1].test_acc >= 0.845


def test_python_api_train_and_load(real_data, tmp_path):
    import softmaxreg
    import softmaxreg.training  # noqa: F401 - a subpackage must not shadow softmaxreg.train

    result = softmaxreg.train(out=str(tmp_path / "run"), epochs=1)
    clf = softmaxreg.load(result.path)
    score = clf.score(real_data.test_images, real_data.test_labels)
    assert score == pytest.approx(result.history[-1].test_acc)


def test_a_checkpoint_that_cannot_be_written_stops_the_run(real_data, tmp_path):
    """Per-epoch files are written in the background; a failure there still stops training
    with the error (no model.safetensors, so the run never looks complete)."""
    run = tmp_path / "run"

    class BlockCheckpoint:  # a folder where the checkpoint file should go: the rename fails
        def on_epoch_start(self, epoch, steps):
            (run / "checkpoint.safetensors").mkdir(exist_ok=True)

    with pytest.raises(OSError):
        train_run(TrainConfig(epochs=3), run, dataset=real_data, callbacks=[BlockCheckpoint()])
    assert (run / "config.json").exists()
    assert not (run / "model.safetensors").exists()
    assert not [p for p in run.iterdir() if p.suffix == ".tmp"]
