"""What the report says about early stopping comes from the model it evaluates (its recorded
kept_epoch), not from counting epochs; and `report` reads the model once."""

import json

import pytest

import softmaxreg
from helpers import run_cli, write_dataset
from softmaxreg.views.report import write_report


@pytest.fixture(scope="module")
def early_run(tmp_path_factory):
    """A run with a validation split and early stopping (patience 5: it never stops here)."""
    root = tmp_path_factory.mktemp("early")
    data = write_dataset(root / "data", n_train=200)
    run = root / "run"
    softmaxreg.train(
        out=str(run),
        dataset="idx",
        data_dir=str(data),
        epochs=3,
        val_fraction=0.2,
        early_stop=5,
    )
    return run


def _note(page: str) -> str:
    return next(line for line in page.splitlines() if "Validation split" in line)


def test_a_finished_run_says_which_epoch_its_model_holds(early_run):
    note = _note(write_report(early_run).read_text())
    kept = json.loads((early_run / "metrics.json").read_text())["best_val_epoch"]
    assert "did not stop the run" in note
    assert f"model.safetensors holds epoch {kept}'s weights" in note


def test_a_stopped_run_is_not_taken_for_an_early_stopped_one(early_run, tmp_path):
    """A run stopped by Ctrl-C after 3 of its 8 epochs: it has fewer epochs than it asked for,
    no model.safetensors, only its last checkpoint."""
    import shutil

    run = tmp_path / "stopped"
    shutil.copytree(early_run, run)
    (run / "model.safetensors").unlink()
    for name in ("curves.svg", "curves.png"):
        (run / name).unlink(missing_ok=True)
    record = json.loads((run / "config.json").read_text())
    record["config"]["epochs"] = 8
    (run / "config.json").write_text(json.dumps(record))
    note = _note(write_report(run).read_text())
    assert "stopped the run" not in note and "model.safetensors" not in note
    assert "unfinished after 3 of 8 epochs" in note and "last checkpoint" in note


def test_report_reads_the_model_once(early_run, monkeypatch):
    from softmaxreg.cli import main
    from softmaxreg.records import rundir

    reads = []
    read_model = rundir.read_model
    monkeypatch.setattr(rundir, "read_model", lambda path: reads.append(path) or read_model(path))
    assert main(["report", str(early_run)]) == 0
    assert reads == [early_run / "model.safetensors"]


def test_report_on_a_file_or_a_folder_without_a_run_is_one_line(early_run, tmp_path):
    rc, out, err = run_cli("report", early_run / "model.safetensors")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "not a run folder" in err
    (tmp_path / "photos").mkdir()
    rc, out, err = run_cli("report", tmp_path / "photos")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "not a softmaxreg run" in err
