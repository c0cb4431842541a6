"""The seed's 10-epoch experiment, seven ways, one table from one run (a part of make bench).

Each row runs in its own subprocess (so its peak RSS is its own):
  (a) classic   a pipeline like the book's: DataLoader over a per-sample Dataset that turns each
                uint8 image into a float tensor, num_workers=4, shuffled; autograd SGD
  (b) autograd  softmaxreg's autograd engine on in-memory data
  (c) fused     softmaxreg's fused engine (the default)
  (d) cli       `softmaxreg train` end to end as a subprocess (Python start-up included)
  (e) tuned     `--recipe tuned` (fused engine)
  (f) sklearn   LogisticRegression(lbfgs, C=1, max_iter=100) on the same pixels
  (g) fused, PyTorch form: the fused engine without its compiled step (what runs on a GPU, in
                float64, or where the package was installed without a C compiler)
Every row runs --repeat times (default 3), the rounds interleaved so that a slow spell of a
shared machine falls on all rows alike; each cell of the table is the median over the rounds.
Usage: python bench/seed.py [--rows a,b,c,d,e,f,g] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from benchkit import interleaved_rounds

ROWS = {
    "a": "classic DataLoader (book-like)",
    "b": "autograd engine, in memory",
    "c": "fused engine (default)",
    "d": "softmaxreg train (CLI, end to end)",
    "e": "tuned recipe (fused)",
    "f": "scikit-learn LogisticRegression",
    "g": "fused engine, PyTorch form",
}


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def row_in_memory(engine: str, recipe: str = "book", compiled: bool | None = None) -> dict:
    import torch

    from softmaxreg.config import TrainConfig
    from softmaxreg.data import load_dataset
    from softmaxreg.training.engines import FusedEngine, SGDParams, make_engine
    from softmaxreg.training.loader import InMemorySplit
    from softmaxreg.training.model import build_model
    from softmaxreg.training.trainer import Trainer

    t0 = time.perf_counter()
    data = load_dataset()
    train = InMemorySplit(data.train_images, data.train_labels)
    test = InMemorySplit(data.test_images, data.test_labels)
    t1 = time.perf_counter()
    cfg = TrainConfig.from_recipe(recipe, engine=engine)
    model = build_model(init_std=cfg.init_std, generator=torch.Generator().manual_seed(0))
    sgd = SGDParams(model.parameters(), cfg.lr, cfg.momentum, cfg.weight_decay, cfg.nesterov)
    # The autograd engine builds a torch.optim.SGD here, whose first construction imports
    # torch._dynamo: part of its training cost, and reported on its own as well.
    made = time.perf_counter()
    if compiled is None:
        engine_ = make_engine(engine, model, sgd)
    else:
        engine_ = FusedEngine(model, sgd, compiled=compiled)
    setup = time.perf_counter() - made
    trainer = Trainer(
        model,
        engine_,
        train,
        test,
        cfg.epochs,
        cfg.batch_size,
        torch.Generator().manual_seed(1),
        cfg.lr_at,
    )
    trainer.run()
    t2 = time.perf_counter()
    return {
        "load": t1 - t0,
        "train": t2 - t1 - trainer.eval_seconds,
        "eval": trainer.eval_seconds,
        "total": t2 - t0,
        "samples": 60000 * cfg.epochs,
        "acc": trainer.history[-1].test_acc,
        "setup": setup,
        "compiled": bool(getattr(engine_, "uses_compiled_step", False)),
    }


def row_classic() -> dict:
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, Dataset

    from softmaxreg.data import load_dataset

    class PerSample(Dataset):
        def __init__(self, images, labels):
            self.images, self.labels = images, labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):  # like ToTensor: one uint8 image -> float tensor in [0, 1]
            x = torch.from_numpy(self.images[i].astype("float32") / 255).unsqueeze(0)
            return x, int(self.labels[i])

    t0 = time.perf_counter()
    d = load_dataset()
    train = DataLoader(PerSample(d.train_images, d.train_labels), 256, shuffle=True, num_workers=4)
    test = DataLoader(PerSample(d.test_images, d.test_labels), 256, num_workers=4)
    t1 = time.perf_counter()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    nn.init.normal_(net[1].weight, std=0.01)
    loss = nn.CrossEntropyLoss(reduction="none")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    eval_s = 0.0
    for _ in range(10):
        for X, y in train:
            l = loss(net(X), y)  # noqa: E741 - the book's name
            opt.zero_grad()
            l.mean().backward()
            opt.step()
        e0 = time.perf_counter()
        with torch.no_grad():
            correct = sum(int((net(X).argmax(1) == y).sum()) for X, y in test)
        eval_s += time.perf_counter() - e0
    t2 = time.perf_counter()
    return {
        "load": t1 - t0,
        "train": t2 - t1 - eval_s,
        "eval": eval_s,
        "total": t2 - t0,
        "samples": 600000,
        "acc": correct / 10000,
    }


def row_cli() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "softmaxreg", "train", "--out", f"{tmp}/run", "-q"], check=True
        )
        total = time.perf_counter() - t0
        with open(f"{tmp}/run/metrics.json") as f:
            metrics = json.load(f)
    train = sum(r["seconds"] for r in metrics["epochs"])
    return {
        "load": None,
        "train": train,
        "eval": None,
        "total": total,
        "samples": 600000,
        "acc": metrics["final"]["test_acc"],
    }


def row_sklearn() -> dict:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from softmaxreg.data import load_dataset

    t0 = time.perf_counter()
    d = load_dataset()
    X = d.train_images.reshape(60000, -1).astype("float32") / 255
    Xt = d.test_images.reshape(10000, -1).astype("float32") / 255
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(C=1.0, solver="lbfgs", max_iter=100).fit(X, d.train_labels)
    t2 = time.perf_counter()
    acc = float((clf.predict(Xt) == d.test_labels).mean())
    t3 = time.perf_counter()
    return {
        "load": t1 - t0,
        "train": t2 - t1,
        "eval": t3 - t2,
        "total": t3 - t0,
        "samples": 60000 * int(clf.n_iter_.max()),
        "acc": acc,
    }


def run_row(key: str) -> dict:
    result = {
        "a": row_classic,
        "b": lambda: row_in_memory("autograd"),
        "c": lambda: row_in_memory("fused"),
        "d": row_cli,
        "e": lambda: row_in_memory("fused", "tuned"),
        "f": row_sklearn,
        "g": lambda: row_in_memory("fused", compiled=False),
    }[key]()
    result["rss"] = peak_rss_mb()
    return result


def median_row(runs: list[dict]) -> dict:
    """Each column's median over the runs (accuracy is the same in every run)."""
    return {
        k: None if runs[0][k] is None else statistics.median(r[k] for r in runs) for k in runs[0]
    }


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="abcdefg")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per row (median reported)")
    ap.add_argument("--row", help=argparse.SUPPRESS)  # internal: run one row, print JSON
    args = ap.parse_args(argv)
    if args.row:
        print(json.dumps(run_row(args.row)))
        return
    rounds = interleaved_rounds(__file__, args.rows.replace(",", ""), ROWS, args.repeat)
    results = {key: median_row(runs) for key, runs in rounds.items()}
    import torch

    print(
        f"\nsoftmaxreg bench: seed configuration (10 epochs, batch 256, lr 0.1) unless noted; "
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"median of {args.repeat} runs per row"
    )
    head = (
        "| row | load s | train s | eval s | total wall s | train samples/s | "
        "peak RSS MB | test acc |"
    )
    print(head)
    print("|" + "---|" * 8)
    for key, r in results.items():
        rate = r["samples"] / r["train"] if r["train"] else None
        print(
            f"| ({key}) {ROWS[key]} | {fmt(r['load'], '.2f')} | {r['train']:.2f} | "
            f"{fmt(r['eval'], '.2f')} | {r['total']:.2f} | {fmt(rate, ',.0f')} | "
            f"{r['rss']:.0f} | {r['acc']:.4f} |"
        )
    t = {k: r["train"] for k, r in results.items()}
    print()
    if "c" in results:
        form = "compiled step" if results["c"]["compiled"] else "PyTorch form (no compiled step)"
        print(f"(c) and (e) ran the fused engine's {form}")
    if "a" in t and "c" in t:
        print(f"train time (a)/(c) classic / fused:   {t['a'] / t['c']:.1f}x")
    if "b" in t and "c" in t:
        print(f"train time (b)/(c) autograd / fused:  {t['b'] / t['c']:.1f}x")
        setup = results["b"]["setup"]
        loop = t["b"] - setup
        print(
            f"  (b) includes {setup:.2f} s building torch.optim.SGD (its first use imports "
            f"torch._dynamo); its loop alone, {loop:.2f} s, is {loop / t['c']:.1f}x (c)"
        )
    if "g" in t and "c" in t:
        print(f"train time (g)/(c) PyTorch form / compiled step: {t['g'] / t['c']:.1f}x")
    if "e" in results and "f" in results:
        ratio = results["f"]["total"] / results["e"]["total"]
        print(f"total time (f)/(e) sklearn / tuned:   {ratio:.1f}x")


if __name__ == "__main__":
    main()
