"""Every bad input tried through the command line, as data: what the case is, how to make it,
and what the one line on stderr must say. tests/test_bad_inputs.py runs each one;
scripts/bad_inputs_table.py runs the same list to write docs/bad-inputs.md.

Each case's `make(folder, model)` builds what it needs under `folder` (a fresh, empty folder)
and returns the command's arguments; `model` is a small trained run folder for the cases that
need one. Where a case would write a run, its --out is `folder/"out"`, which must not exist
afterwards (unless the case is a run that started and failed: then it must not look
finished).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers import idx_header, write_dataset


@dataclass(frozen=True)
class BadInput:
    case: str
    make: Callable[[Path, Path], list]
    expect: tuple[str, ...]
    started: bool = False  # the run began (and failed): its folder stays, never finished


def _train_args(folder: Path, *extra) -> list:
    return ["train", *extra, "--out", folder / "out"]


def _noise(n: int) -> bytes:
    return np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes()


def _idx_case(case, name, content: Callable[[], bytes], *expect) -> BadInput:
    def make(folder: Path, model: Path) -> list:
        data = write_dataset(folder / "data", names=["a", "b", "c"])
        target = data / name
        if content is _DIRECTORY:
            target.unlink()
            target.with_suffix("").mkdir()
        elif content is _MISSING:
            target.unlink()
        else:
            target.write_bytes(content())
        return _train_args(folder, "--dataset", "idx", "--data-dir", data)

    return BadInput(
        case, make, (name.removesuffix(".gz") if content is _DIRECTORY else name, *expect)
    )


def _DIRECTORY() -> bytes:  # markers for _idx_case
    raise AssertionError


def _MISSING() -> bytes:
    raise AssertionError


IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

DATA_FILES = [
    _idx_case(
        "a truncated payload",
        IMAGES,
        lambda: gzip.compress(idx_header(dims=(120, 28, 28)) + _noise(5000)),
        "truncated payload",
    ),
    _idx_case(
        "wrong magic bytes",
        IMAGES,
        lambda: gzip.compress(idx_header(magic=b"PK") + bytes(2 * 784)),
        "bad magic",
    ),
    _idx_case(
        "a type byte other than uint8",
        IMAGES,
        lambda: gzip.compress(idx_header(type_byte=0x0D) + bytes(2 * 784 * 4)),
        "type byte 0x0d",
    ),
    _idx_case(
        "the wrong number of dimensions",
        IMAGES,
        lambda: gzip.compress(idx_header(dims=(120,)) + bytes(120)),
        "has 1 dimensions, expected 3",
    ),
    _idx_case("an empty file", TEST_LABELS, lambda: b"", "empty file"),
    _idx_case(
        "a .gz name on a file that is not gzip",
        TEST_LABELS,
        lambda: idx_header(dims=(40,)) + bytes(40),
        "not gzip-compressed",
    ),
    _idx_case(
        "2^31 images declared",
        IMAGES,
        lambda: gzip.compress(idx_header(dims=(2**31, 28, 28))),
        "over the limit",
    ),
    _idx_case(
        "a gzip bomb (more data than declared)",
        TEST_LABELS,
        lambda: gzip.compress(idx_header(dims=(40,)) + bytes(10**7)),
        "trailing bytes",
    ),
    _idx_case(
        "images and labels of different counts",
        LABELS,
        lambda: gzip.compress(idx_header(dims=(100,)) + bytes(100)),
        "100 labels but",
        "120 images",
    ),
    _idx_case(
        "a label outside classes.txt",
        LABELS,
        lambda: gzip.compress(idx_header(dims=(120,)) + bytes([7]) * 120),
        "label 7",
        "outside the 3 classes of classes.txt",
    ),
    _idx_case("a folder where a file should be", LABELS, _DIRECTORY, "is a directory"),
    _idx_case("a missing file", LABELS, _MISSING, "missing file"),
    BadInput(
        "fashion-mnist files whose checksum does not match",
        lambda folder, model: _train_args(
            folder, "--data-dir", write_dataset(folder / "fake", n_train=60, n_test=10, classes=10)
        ),
        ("train-images-idx3-ubyte.gz", "checksum mismatch"),
    ),
]


def _flag_case(case, args, *expect) -> BadInput:
    return BadInput(case, lambda folder, model: _train_args(folder, *args), expect)


ARGUMENTS = [
    _flag_case("`--epochs 0`", ["--epochs", "0"], "--epochs must be a positive integer, got 0"),
    _flag_case(
        "`--batch-size 0`", ["--batch-size", "0"], "--batch-size must be a positive integer, got 0"
    ),
    _flag_case("`--lr -1`", ["--lr", "-1"], "--lr must be a positive finite number, got -1.0"),
    _flag_case("`--lr abc`", ["--lr", "abc"], "argument --lr: invalid float value: 'abc'"),
    _flag_case("`--momentum 1`", ["--momentum", "1"], "--momentum must be a number in [0, 1)"),
    _flag_case(
        "`--nesterov` without momentum", ["--nesterov"], "--nesterov needs a positive momentum"
    ),
    _flag_case("`--dataset cifar`", ["--dataset", "cifar"], "--dataset: unknown dataset 'cifar'"),
    _flag_case("`--recipe fast`", ["--recipe", "fast"], "--recipe: unknown recipe 'fast'"),
    _flag_case("`--engine gpu`", ["--engine", "gpu"], "--engine: unknown engine 'gpu'"),
    _flag_case(
        "`--dataset idx` without `--data-dir`",
        ["--dataset", "idx"],
        "the idx data set needs --data-dir",
    ),
    BadInput(
        "`--lr 1e38` (training diverges)",
        lambda folder, model: _train_args(
            folder, "--dataset", "idx", "--data-dir", write_dataset(folder / "d"), "--lr", "1e38"
        ),
        ("non-finite loss at epoch", "smaller --lr"),
        started=True,
    ),
    BadInput(
        "`--out` holding a finished run",
        lambda folder, model: [
            "train",
            "--dataset",
            "idx",
            "--data-dir",
            write_dataset(folder / "d"),
            "--out",
            model,
        ],
        ("--out", "already holds a finished run", "--overwrite"),
    ),
    BadInput(
        "`--resume` of a folder that is not a run",
        lambda folder, model: ["train", "--resume", folder],
        ("not a softmaxreg run",),
    ),
    BadInput(
        "`--resume` with `--overwrite`",
        lambda folder, model: ["train", "--resume", model, "--overwrite"],
        ("--resume", "--overwrite"),
    ),
]


def _picture(folder: Path, name: str) -> Path:
    """Bad pictures, by name."""
    from PIL import Image

    real = folder / "real.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(real)
    path = folder / name
    if name == "truncated.png":
        path.write_bytes(real.read_bytes()[:400])
    elif name == "corrupt.png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    elif name == "notes.txt":
        path.write_text("not an image")
    elif name == "huge.png":  # a header declaring 20000x20000 pixels, with almost no data
        chunk = b"IHDR" + struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
        path.write_bytes(
            b"\x89PNG\r\n\x1a\n"
            + struct.pack(">I", 13)
            + chunk
            + struct.pack(">I", zlib.crc32(chunk))
            + b"\0\0\0\0IEND\xaeB`\x82"
        )
    elif name == "empty":
        path.mkdir()
    return path


def _picture_case(case, name, *expect) -> BadInput:
    return BadInput(
        case,
        lambda folder, model: ["predict", "--model", model, _picture(folder, name)],
        (name, *expect),
    )


def _pickle_model(folder: Path, model: Path) -> list:
    import pickle

    path = folder / "model.pt"
    path.write_bytes(pickle.dumps({"w": [0.0]}))
    return ["predict", "--model", path, _picture(folder, "notes.txt")]


PREDICTION = [
    _picture_case("predict: a truncated image", "truncated.png", "corrupt or truncated image"),
    _picture_case("predict: a damaged PNG", "corrupt.png", "not an image Pillow can read"),
    _picture_case(
        "predict: a file that is not an image", "notes.txt", "not an image Pillow can read"
    ),
    _picture_case("predict: an image of 20000x20000 pixels", "huge.png", "over the limit"),
    _picture_case("predict: an empty folder", "empty", "no image files found"),
    _picture_case("predict: a path that does not exist", "missing.png", "no such file"),
    BadInput("predict: a pickle file given as the model", _pickle_model, ("never unpickles",)),
    BadInput(
        "predict: a folder that is not a run as the model",
        lambda folder, model: ["predict", "--model", folder, model],
        ("not a softmaxreg run",),
    ),
    BadInput(
        "predict: `--show` with a name that is not .png",
        lambda folder, model: [
            "predict",
            "--model",
            model,
            _picture(folder, "real.png"),
            "--show",
            folder / "sheet.jpg",
        ],
        ("--show: expected a file name ending in .png",),
    ),
    BadInput(
        "predict: `--top-k 0`",
        lambda folder, model: ["predict", "--model", model, "--top-k", "0", folder],
        ("--top-k must be a positive integer, got 0",),
    ),
]

CASES: list[BadInput] = DATA_FILES + ARGUMENTS + PREDICTION
