"""examples/early_stopping.py (the chapter's second exercise), shortened to a few epochs."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_early_stopping_example_writes_its_figure_table_and_page(real_data, tmp_path):
    figure = tmp_path / "early-stopping.png"
    done = subprocess.run(
        [
            sys.executable,
            ROOT / "examples" / "early_stopping.py",
            "--epochs",
            "2",
            "--out",
            tmp_path / "runs",
            "--figure",
            figure,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    assert names == ["book, lr 0.1", "nothing done", "early stopping", "weight decay", "cosine"]
    assert figure.stat().st_size > 10_000
    assert (tmp_path / "runs" / "compare.html").is_file()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir() if p.is_dir()) == [
        "book-lr-0.1",
        "cosine",
        "early-stopping",
        "nothing-done",
        "weight-decay",
    ]
