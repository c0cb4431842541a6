"""The book's code, both editions, as the book publishes it (`from d2l import torch as d2l`).

Each script here is a section of the book written out (seed_*: the 0.17 edition, chapter 3;
current_*: the 1.0 edition, chapters 3 and 4) and checks the book's values itself (labels,
shapes, fitted weights, accuracies). The suite runs each through `softmaxreg book` and, with
the import line changed to `from softmaxreg import d2l`, as a plain script; section 4.5 also as
a notebook. Names softmaxreg does not serve are refused with one line, exit status 2.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_cli

HERE = Path(__file__).parent
BOOK_IMPORT = "from d2l import torch as d2l"
OUR_IMPORT = "from softmaxreg import d2l"
# How many figures each script leaves (a live figure counts once: it is one file, redrawn).
FIGURES = {
    "seed_linear_regression.py": 1,  # the normal densities (d2l.plot)
    "seed_linear_regression_scratch.py": 1,  # the scatter plot (d2l.plt)
    "seed_linear_regression_concise.py": 0,
    "seed_image_classification_dataset.py": 1,  # a grid of images
    "seed_softmax_regression_scratch.py": 2,  # train_ch3's curves, predict_ch3's images
    "seed_softmax_regression_concise.py": 1,
    "current_oo_design.py": 1,  # the ProgressBoard
    "current_synthetic_regression_data.py": 0,
    "current_linear_regression_scratch.py": 2,  # two models trained, two boards
    "current_linear_regression_concise.py": 1,
    "current_image_classification_dataset.py": 1,
    "current_softmax_regression_scratch.py": 2,  # the board, the misclassified images
    "current_softmax_regression_concise.py": 1,
}
SCRIPTS = sorted(FIGURES)


def test_every_script_here_is_listed():
    assert sorted(p.name for p in HERE.glob("[sc]*_*.py")) == SCRIPTS


def _needs_data(script: str, request) -> None:
    source = (HERE / script).read_text()
    if "fashion_mnist" in source or "FashionMNIST" in source:
        request.getfixturevalue("real_data")


def _figures(stdout: str) -> list[Path]:
    return [Path(line.split(": ", 1)[1]) for line in stdout.splitlines()
            if line.startswith("figure: ")]  # fmt: skip


@pytest.mark.parametrize("script", SCRIPTS)
def test_book_script_runs_through_softmaxreg_book(script, request, tmp_path):
    _needs_data(script, request)
    code, out, err = run_cli("book", HERE / script, "--out", tmp_path / "out")
    assert code == 0, err[-3000:]
    figures = _figures(out)
    assert len(figures) == FIGURES[script], out
    assert all(f.parent == tmp_path / "out" and f.stat().st_size > 1000 for f in figures)


@pytest.mark.parametrize("script", SCRIPTS)
def test_book_script_runs_with_softmaxreg_import(script, request, tmp_path):
    _needs_data(script, request)
    source = (HERE / script).read_text()
    assert source.count(BOOK_IMPORT) == 1
    (tmp_path / script).write_text(source.replace(BOOK_IMPORT, OUR_IMPORT))
    proc = subprocess.run([sys.executable, script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = _figures(proc.stdout)
    assert len(figures) == FIGURES[script]
    assert all((tmp_path / f).stat().st_size > 1000 for f in figures)


def _notebook_of(source: str, path: Path) -> Path:
    """A notebook with one code cell per `# %%` block of a script."""
    import nbformat

    blocks = [b.strip() for b in re.split(r"^# %%$", source, flags=re.M)[1:]]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(b) for b in blocks])
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}  # fmt: skip
    nbformat.write(notebook, path)
    return path


def test_section_4_5_runs_as_a_notebook_and_keeps_its_outputs(real_data, tmp_path):
    import nbformat

    script = (HERE / "current_softmax_regression_concise.py").read_text()
    notebook = _notebook_of(script, tmp_path / "softmax_regression_concise.ipynb")
    code, out, err = run_cli("book", notebook)  # outputs go beside it by default
    assert code == 0, err[-3000:]
    folder = tmp_path / "softmax_regression_concise-out"
    ran = nbformat.read(folder / notebook.name, as_version=4)
    outputs = [o for c in ran.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("validation accuracy 0.8" in o.get("text", "") for o in outputs)
    figures = _figures(out)
    assert figures and all(f.parent == folder for f in figures)
    svg = figures[0].read_text()
    assert "val_acc" in svg and "train_loss" in svg  # the board's curves, drawn inline


# -- names softmaxreg does not serve: one line, exit status 2 ------------------------------------


def _one_line_refusal(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(word in lines[0] for word in words), lines[0]


def test_a_name_of_another_chapter_is_refused_in_one_line(tmp_path):
    script = tmp_path / "lenet.py"
    script.write_text(f"{BOOK_IMPORT}\nprint(d2l.accuracy)\nd2l.train_ch6(None, None, None)\n")
    code, out, err = run_cli("book", script)
    _one_line_refusal(code, err, "d2l.train_ch6", "chapter 6", "0.17")
    assert "<function accuracy" in out  # what ran before the missing name did run
    assert not (tmp_path / "lenet-out").exists()  # it drew nothing: no empty folder left


def test_a_name_imported_from_d2l_torch_is_refused_in_one_line(tmp_path):
    script = tmp_path / "lenet.py"
    script.write_text("from d2l.torch import Classifier, LeNet\n")
    code, _, err = run_cli("book", script)
    _one_line_refusal(code, err, "d2l.LeNet", "chapter 7", "1.0")


def test_a_notebook_asking_for_another_chapter_is_refused_in_one_line(tmp_path):
    notebook = _notebook_of(f"# %%\n{BOOK_IMPORT}\n# %%\nd2l.train_ch6\n", tmp_path / "nb.ipynb")
    code, out, err = run_cli("book", notebook, "--out", tmp_path / "out")
    _one_line_refusal(code, err, "d2l.train_ch6", "chapter 6")
    assert (tmp_path / "out" / "nb.ipynb").exists()  # what ran is kept


def test_the_edition_comes_from_the_code_or_the_flag(tmp_path):
    seed = tmp_path / "seed.py"
    seed.write_text(f"{BOOK_IMPORT}\nprint(d2l.train_ch3.__name__, d2l.__name__)\n")
    code, out, err = run_cli("book", seed)
    assert code == 0 and out.startswith("train_ch3 d2l.torch"), err
    code, _, err = run_cli("book", seed, "--edition", "1.0")
    _one_line_refusal(code, err, "d2l.train_ch3", "0.17", "--edition 0.17")
    mixed = tmp_path / "mixed.py"
    mixed.write_text(f"{BOOK_IMPORT}\nd2l.train_ch3\nd2l.Trainer\n")
    code, _, err = run_cli("book", mixed)
    _one_line_refusal(code, err, "both editions", "d2l.train_ch3", "d2l.Trainer", "--edition")


def test_a_failing_script_shows_its_own_traceback(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text(f"{BOOK_IMPORT}\nx = d2l.tensor([1.0])\n1 / 0\n")
    code, _, err = run_cli("book", script)
    assert code == 1 and "ZeroDivisionError" in err and 'broken.py", line 3' in err
    assert "book.py" not in err  # the traceback starts at the book's code


def test_files_that_cannot_run_are_refused_in_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    for args in (["book", tmp_path / "notes.txt"], ["book", tmp_path / "missing.py"],
                 ["book", tmp_path / "notes.txt", "--edition", "2.0"]):  # fmt: skip
        code, _, err = run_cli(*args)
        assert code == 2 and len(err.strip().splitlines()) == 1, err


def test_the_served_module_says_which_edition_it_is(tmp_path):
    script = tmp_path / "version.py"
    script.write_text(
        "import json, d2l\nfrom d2l import torch as d2l_torch\n"
        "print(json.dumps([d2l.__version__, d2l_torch.Trainer.__name__]))\n"
    )
    code, out, err = run_cli("book", script, "--edition", "1.0")
    assert code == 0, err
    assert json.loads(out) == ["1.0.3+softmaxreg", "Trainer"]
