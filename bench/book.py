"""The book's own training code, timed through softmaxreg.d2l and, when given, the book's package.

Rows (each run in its own subprocess, seeded alike):
  4.5  the current edition's section 4.5: `trainer.fit(model, data)`, SoftmaxRegression on
       d2l.FashionMNIST(batch_size=256), 10 epochs; the time of `trainer.fit` alone
  3.7  the seed's section 3.7: `d2l.train_ch3(...)`, 10 epochs; the time of `train_ch3` alone
Each row prints softmaxreg's median over --repeat runs, the book's package's time and the ratio.
The book's package runs where `--real-python` names an interpreter that has it (d2l 1.x for row
4.5, 0.17 for row 3.7; give the option once for each), offline: its data folder is filled from
the Fashion-MNIST softmaxreg finds. Otherwise the ratio is taken against a figure recorded on
this machine kind (2 cores): 48 s for `trainer.fit`, 42.5 s for `train_ch3`, and says so.
With the same seed, both packages see the same batches and initial weights, so the accuracies
agree.

Usage: python bench/book.py [--rows 4.5,3.7] [--repeat 3] [--real-python PYTHON ...]
(or SOFTMAXREG_BOOK_PYTHONS=PYTHON:PYTHON, as `make bench` passes them)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Seconds measured with the book's packages (d2l 1.0.3, 0.17.6) on this machine kind.
RECORDED = {"4.5": 48.0, "3.7": 42.5}
EDITION = {"4.5": "1.", "3.7": "0.17"}  # the d2l version a real interpreter needs per row

COMMON = """\
import contextlib, io, json, time
import torch
from torch import nn
from d2l import torch as d2l

torch.manual_seed(0)
"""
SECTION_4_5 = (
    COMMON
    + """
class SoftmaxRegression(d2l.Classifier):
    def __init__(self, num_outputs, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_outputs))

    def forward(self, X):
        return self.net(X)


data = d2l.FashionMNIST(batch_size=256)
model = SoftmaxRegression(num_outputs=10, lr=0.1)
trainer = d2l.Trainer(max_epochs=10)
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):  # the book's package prints its figure's repr
    trainer.fit(model, data)
seconds = time.perf_counter() - start
print("BENCH", json.dumps({"seconds": seconds, "acc": float(model.board.data["val_acc"][-1].y)}))
"""
)
SECTION_3_7 = (
    COMMON
    + """
train_iter, test_iter = d2l.load_data_fashion_mnist(256)
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
net.apply(lambda m: nn.init.normal_(m.weight, std=0.01) if type(m) is nn.Linear else None)
loss = nn.CrossEntropyLoss(reduction="none")
trainer = torch.optim.SGD(net.parameters(), lr=0.1)
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    d2l.train_ch3(net, train_iter, test_iter, loss, 10, trainer)
seconds = time.perf_counter() - start
print("BENCH", json.dumps({"seconds": seconds, "acc": d2l.evaluate_accuracy(net, test_iter)}))
"""
)
SCRIPTS = {"4.5": SECTION_4_5, "3.7": SECTION_3_7}
NAMES = {"4.5": "4.5 trainer.fit (1.0)", "3.7": "3.7 train_ch3 (0.17)"}


def run_script(python: str, source: str, workdir: Path) -> dict:
    script = workdir / "section.py"
    script.write_text(source)
    env = {**os.environ, "MPLBACKEND": "Agg", "SOFTMAXREG_FIGURES": str(workdir)}
    proc = subprocess.run([python, str(script)], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=1800)  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[len("BENCH ") :])
    raise RuntimeError(f"{python} {script} failed:\n{proc.stderr[-2000:]}")


def real_d2l_version(python: str) -> str | None:
    proc = subprocess.run([python, "-c", "import d2l; print(d2l.__version__)"],
                          capture_output=True, text=True)  # fmt: skip
    return proc.stdout.strip() if proc.returncode == 0 else None


def prepare_book_data(root: Path) -> Path:
    """root/data/FashionMNIST/raw with the four IDX files as torchvision expects them, so the
    book's package (root="../data" from root/work) never tries the network."""
    from softmaxreg.data import get_spec, locate

    location = locate(get_spec("fashion-mnist"))
    if location is None:
        raise SystemExit("Fashion-MNIST not found: run `make data` (or softmaxreg data --fetch)")
    raw = root / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for path in location.paths.values():
        name = Path(path).name.removesuffix(".gz")
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    (root / "work").mkdir()
    return root / "work"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="4.5,3.7", help="sections to time (4.5,3.7)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of softmaxreg's row (3)")
    parser.add_argument(
        "--real-python",
        action="append",
        # make bench passes them through the environment, colon-separated
        default=[p for p in os.environ.get("SOFTMAXREG_BOOK_PYTHONS", "").split(":") if p],
        help="an interpreter with the book's d2l package (once per edition; default: "
        "$SOFTMAXREG_BOOK_PYTHONS, colon-separated)",
    )
    args = parser.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    real = {}
    for python in args.real_python:
        version = real_d2l_version(python)
        for row in rows:
            if version and version.startswith(EDITION[row]):
                real[row] = (python, version)
    with tempfile.TemporaryDirectory(prefix="bench-book-") as tmp:
        book_work = prepare_book_data(Path(tmp) / "book") if real else None
        ours_work = Path(tmp) / "ours"
        ours_work.mkdir()
        print(f"{'section':24} {'softmaxreg.d2l':>15} {'book':>22} {'ratio':>7}  accuracy")
        for row in rows:
            ours_source = SCRIPTS[row].replace("from d2l import torch as d2l",
                                               "from softmaxreg import d2l")  # fmt: skip
            ours = [run_script(sys.executable, ours_source, ours_work) for _ in range(args.repeat)]
            ours_s = statistics.median(r["seconds"] for r in ours)
            if row in real:
                python, version = real[row]
                book = run_script(python, SCRIPTS[row], book_work)
                book_s, label = book["seconds"], f"{book['seconds']:.1f} s (d2l {version})"
                acc = f"{ours[0]['acc']:.4f} / {book['acc']:.4f} (book)"
            else:
                book_s, label = RECORDED[row], f"{RECORDED[row]:.1f} s (recorded)"
                acc = f"{ours[0]['acc']:.4f}"
            print(f"{NAMES[row]:24} {ours_s:>13.2f} s {label:>22} {book_s / ours_s:>6.1f}x  {acc}")
        if len(real) < len(rows):
            print(
                "book: where no --real-python with that edition was given, the time is the one "
                "recorded on this machine kind (2 cores), not measured in this run"
            )


if __name__ == "__main__":
    main()
