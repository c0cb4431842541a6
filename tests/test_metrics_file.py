"""A run's metrics.csv that was damaged (cut short, edited by hand): reading it is one clear
error naming the file and the line; `runs` and `compare` list that run as unreadable, with
that reason, and go on with the others."""

import shutil

import pytest

import softmaxreg
from helpers import run_cli, write_dataset
from softmaxreg.errors import DataError
from softmaxreg.records.history import read_metrics_csv


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    data = write_dataset(root / "data")
    softmaxreg.train(out=str(root / "runs" / "good"), dataset="idx", data_dir=str(data), epochs=2)
    shutil.copytree(root / "runs" / "good", root / "runs" / "damaged")
    metrics = root / "runs" / "damaged" / "metrics.csv"
    header, first, second = metrics.read_text().splitlines()
    metrics.write_text(f"{header}\n{first}\n{second.rsplit(',', 2)[0]}\n")  # cut short
    return root / "runs"


def test_runs_lists_a_damaged_run_as_unreadable_with_the_line(runs):
    rc, out, err = run_cli("runs", runs)
    assert rc == 0 and "Traceback" not in err, err
    assert "good " in out and "finished" in out
    reason = next(line for line in out.splitlines() if line.startswith("damaged: unreadable"))
    assert "damaged/metrics.csv: line 3: has 3 values, expected 5 like the header" in reason


def test_compare_shows_the_damaged_run_beside_the_others(runs, tmp_path):
    rc, out, err = run_cli("compare", runs, "--out", tmp_path / "page.html")
    assert rc == 0 and "Traceback" not in err, err
    page = (tmp_path / "page.html").read_text()
    assert "unreadable" in page and "line 3: has 3 values" in page


@pytest.mark.parametrize(
    "content, problem",
    [
        ("epoch,train_loss,train_acc,test_acc,seconds\n1,0.5,0.8,zero,0.1\n", "line 2: test_acc"),
        ("epoch,train_loss,train_acc,test_acc,seconds\n1,0.5,0.8,0.7,0.1,9\n", "has 6 values"),
        ("epoch,train_loss,seconds\n1,0.5,0.1\n", "line 1: the header has no 'train_acc' column"),
        ("", "line 1: the header has no 'epoch' column"),
    ],
)
def test_a_damaged_metrics_file_is_one_line_naming_file_and_line(tmp_path, content, problem):
    path = tmp_path / "metrics.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=problem) as caught:
        read_metrics_csv(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)
