"""softmaxreg sweep: every combination as an ordinary run folder, a summary, failures recorded,
Ctrl-C and the same command again."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import metrics_rows, run_cli
from softmaxreg.config import TrainConfig
from softmaxreg.errors import ConfigError
from softmaxreg.records import RunDir
from softmaxreg.training.runner import train_run
from softmaxreg.training.sweep import plan_sweep, run_sweep


def read_summary(sweep):
    with open(sweep / "summary.csv", newline="") as f:
        return {row["run"]: row for row in csv.DictReader(f)}


def test_plan_is_every_combination_in_settings_order():
    runs = plan_sweep({"lr": [0.03, 0.1, 1.0], "batch_size": [64, 256], "epochs": [5]})
    assert [r.name for r in runs] == [
        f"batch_size={b},lr={lr}" for b in (64, 256) for lr in ("0.03", "0.1", "1")
    ]
    assert all(r.config.epochs == 5 for r in runs)
    assert runs[-1].config == TrainConfig(batch_size=256, lr=1.0, epochs=5)
    assert [r.name for r in plan_sweep({"seed": [2]})] == ["run"]  # nothing varies


@pytest.mark.parametrize(
    "grid, message",
    [
        ({"lr": []}, "lr: no values given"),
        ({"lr": [0.1, 0.1]}, "lr: 0.1 is listed twice"),
        ({"lr": [0.1, -1.0]}, "lr must be a positive finite number, got -1.0"),
        ({"colour": [1]}, "unknown setting(s) colour"),
        ({"threads": [1, 2]}, "threads says how to run, not what to train"),
        (
            {"momentum": [0.0, 0.9], "nesterov": [True]},
            "run momentum=0: nesterov needs a positive momentum",
        ),
        ({"early_stop": [None, 3]}, "run early_stop=3: early_stop watches the validation loss"),
    ],
)
def test_a_bad_grid_is_refused_before_anything_runs(tmp_path, grid, message):
    with pytest.raises(ConfigError) as caught:
        run_sweep(grid, tmp_path / "sweep")
    assert message in str(caught.value)
    assert not (tmp_path / "sweep").exists()


class Recorder:
    """A progress view that remembers what it was told."""

    def __init__(self):
        self.epochs, self.runs = [], []

    def start(self, planned, done):
        self.planned, self.done = dict(planned), dict(done)

    def epoch_done(self, name, epoch):
        self.epochs.append((name, epoch))

    def run_done(self, name, summary):
        self.runs.append((name, summary.status))

    def close(self):
        pass


def test_sweep_runs_are_the_runs_train_makes(real_data, tmp_path):
    sweep = tmp_path / "sweep"
    progress = Recorder()
    result = run_sweep({"lr": [0.05, 0.2], "epochs": [2]}, sweep, progress=progress)
    assert [name for name, _ in result.runs] == ["lr=0.05", "lr=0.2"]
    assert progress.runs == [("lr=0.05", "finished"), ("lr=0.2", "finished")]
    assert progress.epochs == [("lr=0.05", 1), ("lr=0.05", 2), ("lr=0.2", 1), ("lr=0.2", 2)]
    summary = read_summary(sweep)
    for lr in (0.05, 0.2):
        lone = train_run(TrainConfig(lr=lr, epochs=2), tmp_path / f"lone-{lr}", dataset=real_data)
        run = sweep / f"lr={lr}"
        assert metrics_rows(run) == metrics_rows(lone.path)
        assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in lone.path.iterdir())
        row = summary[f"lr={lr}"]
        best = max(lone.history, key=lambda r: r.test_acc)
        assert row["status"] == "finished" and row["lr"] == str(lr) and row["epochs"] == "2"
        assert float(row["final_test_acc"]) == lone.history[-1].test_acc
        assert (float(row["best_test_acc"]), int(row["best_epoch"])) == (best.test_acc, best.epoch)
    plan = json.loads((sweep / "sweep.json").read_text())
    assert list(plan["runs"]) == ["lr=0.05", "lr=0.2"] and plan["runs"]["lr=0.2"]["lr"] == 0.2
    for name in ("summary.svg", "summary.png"):
        assert (sweep / name).stat().st_size > 1000
    assert result.best()[0] == max(summary, key=lambda n: float(summary[n]["final_test_acc"]))


def test_the_same_sweep_again_redoes_nothing_finished(tiny_dir, tmp_path):
    grid = {"dataset": ["idx"], "data_dir": [str(tiny_dir)], "lr": [0.1, 0.5], "epochs": [2]}
    run_sweep(grid, tmp_path / "sweep")
    models = {p: p.stat().st_mtime_ns for p in (tmp_path / "sweep").glob("*/model.safetensors")}
    assert len(models) == 2
    progress = Recorder()
    again = run_sweep(grid, tmp_path / "sweep", progress=progress)
    assert progress.epochs == [] and progress.runs == []
    assert progress.done == {"lr=0.1": 2, "lr=0.5": 2}
    assert [s.status for _, s in again.runs] == ["finished", "finished"]
    assert {p: p.stat().st_mtime_ns for p in models} == models


def test_a_failing_run_is_recorded_and_the_others_finish(tiny_dir, tmp_path):
    """Two worker processes; one setting diverges. Exit status 1, one line on stderr."""
    sweep = tmp_path / "sweep"
    args = ["sweep", "--dataset", "idx", "--data-dir", tiny_dir, "--epochs", "2", "--out", sweep]
    rc, out, err = run_cli(*args, "--lr", "0.1,1e38,0.5", "--jobs", "2")
    assert rc == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "1 of 3 runs failed (lr=1e+38: training diverged" in lines[0]
    assert str(sweep / "summary.csv") in lines[0]
    summary = read_summary(sweep)
    assert [summary[n]["status"] for n in ("lr=0.1", "lr=1e+38", "lr=0.5")] == [
        "finished",
        "failed",
        "finished",
    ]
    assert "non-finite loss at epoch" in summary["lr=1e+38"]["reason"]
    assert "lr=1e+38: failed: training diverged" in out
    failed = RunDir(sweep / "lr=1e+38")
    assert failed.status == "failed" and "non-finite loss" in failed.failure()["reason"]
    rc, out, err = run_cli("runs", sweep)
    assert rc == 0, err
    listed = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:4]}
    assert listed == {"lr=0.1": "finished", "lr=0.5": "finished", "lr=1e+38": "failed"}
    assert "lr=1e+38: failed: training diverged" in out
    for worker_threads in (RunDir(sweep / "lr=0.1").record()["threads"],):
        assert worker_threads == 1  # each of N > 1 workers runs torch on one thread


@pytest.mark.slow
def test_ctrl_c_stops_every_run_and_the_same_command_finishes_them(real_data, tmp_path):
    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "softmaxreg", "sweep", "--lr", "0.05,0.1,0.2"]
    command += ["--epochs", "6", "--jobs", "2", "--out", str(sweep)]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    # Ctrl-C as a terminal sends it, to the sweep and its workers alike (the sweep forwards
    # its own stop too: each worker must take the two as one), once a run has an epoch done.
    while not list(sweep.glob("*/metrics.csv")):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("softmaxreg: sweep stopped")
    statuses = {row["status"] for row in read_summary(sweep).values()}
    assert statuses <= {"stopped", "pending", "finished"} and "stopped" in statuses
    assert not list(sweep.glob("*/.*.tmp"))
    for run in sweep.glob("lr=*"):  # each stopped run saved a checkpoint to resume from
        assert RunDir(run).status != "stopped" or (run / "checkpoint.safetensors").exists()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert {row["status"] for row in read_summary(sweep).values()} == {"finished"}
    lone = train_run(TrainConfig(lr=0.1, epochs=6), tmp_path / "lone", dataset=real_data)
    assert metrics_rows(sweep / "lr=0.1") == metrics_rows(lone.path)


def test_sweep_flags_take_comma_lists_with_none_for_optional_settings():
    from softmaxreg.cli.arguments import split_values

    assert split_values("early_stop", "none, 5") == [None, 5]
    assert split_values("nesterov", "false,True") == [False, True]
    assert split_values("lr", "0.03,1e-1") == [0.03, 0.1]
    runs = plan_sweep({"val_fraction": [0.1], "early_stop": [None, 5]})
    assert [(r.name, r.config.early_stop) for r in runs] == [
        ("early_stop=none", None),
        ("early_stop=5", 5),
    ]


def test_the_process_that_hands_out_runs_never_imports_torch(tiny_dir, tmp_path):
    """With N > 1 only the workers train; the sweep's own process stays light."""
    script = (
        "import sys\n"
        "from softmaxreg.training.sweep import run_sweep\n"
        f"grid = {{'dataset': ['idx'], 'data_dir': [{str(tiny_dir)!r}], 'lr': [0.1, 0.2]}}\n"
        f"result = run_sweep(grid, {str(tmp_path / 'sweep')!r}, jobs=2)\n"
        "assert [s.status for _, s in result.runs] == ['finished', 'finished'], result.runs\n"
        "assert 'torch' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_one_bar_for_the_whole_sweep_or_a_line_per_run(capsys):
    """On a terminal one bar counts every epoch of every run (a run that stopped early or
    failed counts as done); otherwise each finished run is one line."""
    import io

    from softmaxreg.records.history import EpochRecord
    from softmaxreg.records.summary import RunSummary
    from softmaxreg.views.progress import SweepBar

    def summary(status, accs, reason=""):
        history = [EpochRecord(e, 0.5, 0.8, a, 0.1) for e, a in enumerate(accs, 1)]
        return RunSummary(Path("x"), status, {}, history, None, reason)

    bar = SweepBar(bar=True)
    bar.start({"a": 3, "b": 3, "c": 2}, {"a": 1})
    for epoch in (2, 3):
        bar.epoch_done("a", epoch)
    bar.run_done("a", summary("finished", [0.7, 0.8, 0.75]))
    bar.epoch_done("b", 1)
    bar.run_done("b", summary("failed", [0.7], "training diverged"))
    bar.run_done("c", summary("finished", [0.6, 0.9]))
    bar.close()
    err = capsys.readouterr().err
    assert "8/8" in err and "3/3 runs done" in err
    assert "b: failed: training diverged" in err
    lines = io.StringIO()
    plain = SweepBar(stream=lines, bar=False)
    plain.start({"a": 3}, {})
    plain.run_done("a", summary("finished", [0.7, 0.8, 0.75]))
    assert lines.getvalue() == (
        "a: finished after 3 epochs, test acc 0.7500 (best 0.8000 at epoch 2), 0.30 s\n"
    )


def test_importing_the_worker_module_changes_nothing_in_the_process():
    """Only a worker's set-up (start) skips the interpreter's teardown, and no worker draws a
    figure until a run asks: a script that merely imports the module keeps its own exit
    status."""
    script = (
        "import softmaxreg.views.plots as plots\n"
        "drawn = []\n"
        "plots.rehearse_curves = lambda *args: drawn.append(args)\n"
        "import softmaxreg.training.sweep_worker\n"
        "print('drew a figure' if drawn else 'drew nothing')\n"
        "raise SystemExit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (3, "drew nothing"), done.stderr


def _settings(grid):
    return {r.name: r.settings() for r in plan_sweep(grid)}


def test_a_sweep_recorded_before_a_setting_existed_is_still_the_same_sweep(tmp_path):
    """sweep.json from before a setting was added lacks it: its default is what those runs
    trained with, so the same command still finishes that sweep."""
    from softmaxreg.records.sweepdir import SweepDir

    planned = _settings({"lr": [0.1, 0.2]})
    older = {name: {k: v for k, v in s.items() if k != "early_stop"} for name, s in planned.items()}
    SweepDir.prepare(tmp_path / "older", older, "softmaxreg sweep --lr 0.1,0.2")
    assert SweepDir.prepare(tmp_path / "older", planned).path == tmp_path / "older"
    # and the other way round: a key recorded that this plan lacks, at its default
    SweepDir.prepare(tmp_path / "newer", planned)
    assert SweepDir.prepare(tmp_path / "newer", older).path == tmp_path / "newer"


def _without(settings, key):
    return {k: v for k, v in settings.items() if k != key}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: {**s, "lr": 0.3}, "run lr=0.1 has lr 0.3 there, 0.1 here"),
        (lambda s: {**s, "colour": "red"}, "run lr=0.1 has colour 'red' there, None here"),
        (lambda s: _without(s, "momentum"), "run lr=0.1 has momentum 0.0 there, 0.9 here"),
    ],
    ids=["another value", "a setting unknown here", "a setting missing there"],
)
def test_another_sweep_in_the_folder_is_one_line_saying_what_differs(tmp_path, change, message):
    from softmaxreg.records.sweepdir import SweepDir

    planned = _settings({"lr": [0.1, 0.2], "momentum": [0.9]})
    recorded = {n: change(s) if n == "lr=0.1" else s for n, s in planned.items()}
    SweepDir.prepare(tmp_path / "sweep", recorded, "softmaxreg sweep --lr 0.3,0.2")
    with pytest.raises(ConfigError) as caught:
        SweepDir.prepare(tmp_path / "sweep", planned)
    text = str(caught.value)
    assert "holds another sweep" in text and message in text and "\n" not in text


def test_summary_cells_write_settings_as_run_names_do(tmp_path):
    from softmaxreg.records.sweepdir import SweepDir
    from softmaxreg.training.sweep import run_name

    sweep = SweepDir(tmp_path)
    settings = {"lr": 1.0, "nesterov": True, "early_stop": None, "batch_size": 64}
    sweep.write_summary([{"run": run_name(settings, list(settings)), **settings}])
    row = read_summary(tmp_path)["lr=1,nesterov=true,early_stop=none,batch_size=64"]
    assert (row["lr"], row["nesterov"], row["early_stop"], row["batch_size"]) == (
        "1",
        "true",
        "",
        "64",
    )


def test_a_damaged_sweep_plan_is_one_line(tmp_path):
    from softmaxreg.records.sweepdir import SweepDir

    planned = _settings({"lr": [0.1, 0.2]})
    SweepDir.prepare(tmp_path, planned)
    plan = json.loads((tmp_path / "sweep.json").read_text())
    (tmp_path / "sweep.json").write_text(json.dumps({**plan, "runs": {n: 3 for n in planned}}))
    with pytest.raises(ConfigError, match="unreadable sweep plan"):
        SweepDir.prepare(tmp_path, planned)
