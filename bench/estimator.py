"""The scikit-learn estimator on Fashion-MNIST: softmaxreg.SoftmaxRegression against
scikit-learn's LogisticRegression, both fitted in one run on the same pixels / 255 (float32).

Each configuration runs in its own subprocess (so its peak RSS is its own):
  (a) sklearn   LogisticRegression() with its defaults (lbfgs, C=1, max_iter=100), as bench/run.py
                row (f) runs it; its ConvergenceWarning is silenced
  (b) compiled  SoftmaxRegression(random_state=0): the defaults, on the compiled fused step
  (c) numpy     the same, on the step's numpy form (the package as installed without a C compiler)
Every configuration runs --repeat times (default 3), the rounds interleaved so that a slow spell
of a shared machine falls on all of them alike; each cell is the median over the rounds.
Usage: python bench/estimator.py [--rows a,b,c] [--repeat N]

(Not bench/sklearn.py: Python puts a script's folder first on sys.path, so a file of that name
would stand in for scikit-learn in every script under bench/, bench/run.py's row (f) included.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

from benchkit import interleaved_rounds

ROWS = {
    "a": "scikit-learn LogisticRegression()",
    "b": "SoftmaxRegression() (compiled step)",
    "c": "SoftmaxRegression() (numpy form)",
}


def fashion_mnist_floats():
    import numpy as np

    from softmaxreg.data import load_dataset

    d = load_dataset()
    X = d.train_images.reshape(len(d.train_images), -1).astype(np.float32)
    Xt = d.test_images.reshape(len(d.test_images), -1).astype(np.float32)
    X /= 255  # in place: peak RSS is then the fit's, not a second copy of the data's
    Xt /= 255
    return X, d.train_labels, Xt, d.test_labels


def make_estimator(key: str):
    if key == "a":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression()
    from softmaxreg import SoftmaxRegression, kernel

    if key == "c":  # as if the library had not been built: load_step() gives the numpy form
        kernel.library_path = lambda: None
        kernel.load_compiled_step.cache_clear()
    return SoftmaxRegression(random_state=0)


def run_row(key: str) -> dict:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    X, y, Xt, yt = fashion_mnist_floats()
    estimator = make_estimator(key)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X, y)
    t1 = time.perf_counter()
    accuracy = (estimator.predict(Xt) == yt).mean()
    t2 = time.perf_counter()
    n_iter = estimator.n_iter_
    epochs = int(max(n_iter)) if hasattr(n_iter, "__len__") else int(n_iter)
    return {
        "fit": t1 - t0,
        "predict": t2 - t1,
        "acc": float(accuracy),
        "iterations": epochs,
        "compiled": getattr(estimator, "compiled_step_", None),
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": "torch" in sys.modules,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="abc")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per row (median reported)")
    ap.add_argument("--row", help=argparse.SUPPRESS)  # internal: run one row, print JSON
    args = ap.parse_args()
    if args.row:
        print(json.dumps(run_row(args.row)))
        return
    rounds = interleaved_rounds(__file__, args.rows.replace(",", ""), ROWS, args.repeat)
    med = {
        key: {k: statistics.median(r[k] for r in runs) for k in ("fit", "predict", "rss")}
        for key, runs in rounds.items()
    }
    import sklearn

    print(
        f"\nsoftmaxreg bench (scikit-learn estimator): Fashion-MNIST, 60,000 training images as "
        f"pixels / 255 (float32), test accuracy on 10,000; {os.cpu_count()} CPUs, scikit-learn "
        f"{sklearn.__version__}; median of {args.repeat} runs per row"
    )
    print("| row | fit s | epochs / iterations | predict s | peak RSS MB | test acc | torch |")
    print("|" + "---|" * 7)
    for key, runs in rounds.items():
        r, first = med[key], runs[0]
        accs = sorted({f"{run['acc']:.4f}" for run in runs})
        print(
            f"| ({key}) {ROWS[key]} | {r['fit']:.2f} | {first['iterations']} | "
            f"{r['predict']:.3f} | {r['rss']:.0f} | {', '.join(accs)} | "
            f"{'imported' if any(run['torch'] for run in runs) else 'never imported'} |"
        )
    print()
    if "b" in rounds and rounds["b"][0]["compiled"] is False:
        print("(b) ran the numpy form: the compiled step is not built here")
    fit = {key: r["fit"] for key, r in med.items()}
    ratios = [
        ("a", "b", "LogisticRegression / SoftmaxRegression"),
        ("a", "c", "LogisticRegression / numpy form"),
        ("c", "b", "numpy form / compiled step"),
    ]
    for slow, fast, words in ratios:
        if slow in fit and fast in fit:
            print(f"fit time ({slow})/({fast}) {words + ':':40} {fit[slow] / fit[fast]:.1f}x")


if __name__ == "__main__":
    main()
