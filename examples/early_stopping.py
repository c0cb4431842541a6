"""The chapter's second exercise: "Increase the number of epochs for training. Why might the
test accuracy decrease after a while? How could we fix this?"

Trains 100 epochs at learning rate 1 (ten times the book's) four ways, each holding out the
same 10% of the training set as a validation split, so that they differ in one thing only:

  nothing done    the book's SGD, constant learning rate
  early stopping  --early-stop 10: stop once the validation loss has not improved for 10
                  epochs, keep the weights of its best epoch
  weight decay    --weight-decay 1e-4 (an L2 penalty on the weights)
  cosine          --schedule cosine: the learning rate decays from 1 to 0.01

and, for reference, the book's learning rate 0.1 for as long. It prints a table, writes the
figure (test accuracy by epoch, one panel per fix) and a comparison page of the five runs.

Run: python examples/early_stopping.py [--epochs 100] [--out runs/exercise-2]
                                       [--figure docs/early-stopping.png]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import softmaxreg
from softmaxreg.views.compare import write_compare

LARGE_LR = 1.0
VARIANTS = {  # name: (settings, what it shows)
    "nothing done": ({}, "lr 1, constant"),
    "early stopping": ({"early_stop": 10}, "lr 1, --early-stop 10"),
    "weight decay": ({"weight_decay": 1e-4}, "lr 1, --weight-decay 1e-4"),
    "cosine": ({"schedule": "cosine"}, "lr 1, --schedule cosine"),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="runs/exercise-2", help="folder for the five runs")
    parser.add_argument("--figure", default="docs/early-stopping.png")
    args = parser.parse_args(argv)
    out = Path(args.out)

    common = {"epochs": args.epochs, "val_fraction": 0.1, "overwrite": True}
    book = softmaxreg.train(out=str(out / "book-lr-0.1"), lr=0.1, **common)
    results = {
        name: softmaxreg.train(
            out=str(out / name.replace(" ", "-")), lr=LARGE_LR, **settings, **common
        )
        for name, (settings, _) in VARIANTS.items()
    }

    print(f"{args.epochs} epochs; test accuracy of each run's model (model.safetensors)")
    print(
        "| run | epochs trained | model's epoch | test acc | best test acc (epoch) "
        "| last 10 epochs: mean (min-max) | weight norm |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, result in {"book, lr 0.1": book, **results}.items():
        print(_row(name, result))

    _figure(book, results, args.epochs).savefig(args.figure, metadata={"Software": None})
    page = write_compare([r.path for r in (book, *results.values())], out / "compare.html")
    print(f"figure: {args.figure}; runs side by side: {page}")


def _row(name: str, result) -> str:
    history = result.history
    kept = history[(result.kept_epoch or len(history)) - 1]
    best = max(history, key=lambda r: r.test_acc)
    last = [r.test_acc for r in history[-10:]]
    weight = softmaxreg.load(result.path).weight
    return (
        f"| {name} | {len(history)} | {kept.epoch} | {kept.test_acc:.4f} "
        f"| {best.test_acc:.4f} ({best.epoch}) "
        f"| {statistics.mean(last):.4f} ({min(last):.4f}-{max(last):.4f}) "
        f"| {float(np.linalg.norm(weight)):.1f} |"
    )


def _figure(book, results: dict, epochs: int) -> Figure:
    fig = Figure(figsize=(9, 5.6), dpi=110)
    axes = fig.subplots(2, 2, sharex=True, sharey=True).ravel()
    for ax, (name, result) in zip(axes, results.items(), strict=True):
        ax.plot(
            [r.epoch for r in book.history],
            [r.test_acc for r in book.history],
            color="0.6",
            linewidth=1,
            label="book's lr 0.1",
        )
        epochs_run = [r.epoch for r in result.history]
        ax.plot(
            epochs_run,
            [r.test_acc for r in result.history],
            color="C3",
            linewidth=1,
            label=VARIANTS[name][1],
        )
        kept = result.history[(result.kept_epoch or len(result.history)) - 1]
        ax.plot([kept.epoch], [kept.test_acc], "o", color="C0", label=f"model: epoch {kept.epoch}")
        if result.kept_epoch and len(result.history) < epochs:
            ax.axvline(
                len(result.history),
                color="C0",
                linestyle="--",
                linewidth=0.8,
                label=f"stopped after epoch {len(result.history)}",
            )
        ax.set_title(f"{name}: test acc of the model {kept.test_acc:.4f}", fontsize=9)
        ax.set_ylim(0.6, 0.87)
        ax.grid(True, alpha=0.4)
        ax.legend(loc="lower right", fontsize=7)
    for ax in axes[2:]:
        ax.set_xlabel("epoch")
    for ax in axes[::2]:
        ax.set_ylabel("test accuracy")
    fig.suptitle(f"{epochs} epochs at learning rate {LARGE_LR:g} (10x the book's)", fontsize=10)
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()
