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
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers import NAMES, idx_header, make_images, make_picture_folders, write_csv, write_dataset


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


def _raw_size_mismatch(folder: Path) -> list:
    """An uncompressed (memory-mapped) images file cut short by 100 bytes."""
    data = write_dataset(folder / "data", names=["a", "b", "c"], gz=False)
    images = data / "train-images-idx3-ubyte"
    with open(images, "r+b") as f:
        f.truncate(images.stat().st_size - 100)
    return _train_args(folder, "--dataset", "idx", "--data-dir", data)


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
        "header declares 1683627180032 bytes but a",
        "gzip file cannot hold that many",
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
        "an uncompressed file whose header disagrees with its size",
        lambda folder, model: _raw_size_mismatch(folder),
        ("train-images-idx3-ubyte", "the header and the file size disagree", "re-create it"),
    ),
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
        "`--shuffle random`",
        ["--shuffle", "random"],
        "--shuffle: unknown shuffle 'random'; choose one of: auto, global, block",
    ),
    BadInput(
        "`--val-fraction` on a training set read in blocks (`--shuffle block`)",
        lambda folder, model: _train_args(
            folder,
            "--dataset",
            "idx",
            "--data-dir",
            write_dataset(folder / "d"),
            "--shuffle",
            "block",
            "--val-fraction",
            "0.1",
        ),
        ("--val-fraction holds out rows of a training set kept in memory",),
    ),
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
        "predict: `--show` where it cannot be written",
        lambda folder, model: [
            "predict",
            "--model",
            model,
            _picture(folder, "real.png"),
            "--show",
            folder / "real.png" / "sheet.png",
        ],
        (
            "--show",
            "real.png/sheet.png: cannot write",
        ),
    ),
    BadInput(
        "predict: `--top-k 0`",
        lambda folder, model: ["predict", "--model", model, "--top-k", "0", folder],
        ("--top-k must be a positive integer, got 0",),
    ),
]

# Bad sources for `softmaxreg data import`: each builds its sources under a folder.


def _bad_csv(tmp_path, edit):
    x, y = make_images(8, 2, shape=(4, 4))
    rows = write_csv(tmp_path / "train.csv", x, y).read_text().splitlines()
    rows = edit(rows)
    (tmp_path / "train.csv").write_text("\n".join(rows) + "\n")
    return ["--train", tmp_path / "train.csv", "--test", _good_csv(tmp_path)]


def _good_csv(tmp_path, shape=(4, 4)):
    x, y = make_images(6, 2, seed=3, shape=shape)
    return write_csv(tmp_path / "test.csv", x, y)


def _set_cell(line_no, column, value):
    def edit(rows):
        cells = rows[line_no - 1].split(",")
        cells[column - 1] = value
        rows[line_no - 1] = ",".join(cells)
        return rows

    return edit


def _drop_cell(line_no):
    def edit(rows):
        rows[line_no - 1] = rows[line_no - 1].rsplit(",", 1)[0]
        return rows

    return edit


def _folders(tmp_path, empty=None, corrupt=False, extra_class=None):
    x, y = make_images(12, 3, shape=(8, 8))
    make_picture_folders(tmp_path / "train", x, y)
    make_picture_folders(tmp_path / "test", x[:4], y[:4])
    if empty:
        (tmp_path / "train" / empty).mkdir()
        (tmp_path / "train" / empty / "notes.txt").write_text("no pictures here")
    if corrupt:
        (tmp_path / "train" / "coat" / "0005.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    if extra_class:
        make_picture_folders(tmp_path / "test", x[:1], [0], names=(extra_class,))
    return ["--train", tmp_path / "train", "--test", tmp_path / "test"]


def _npz(tmp_path, **edits):
    x, y = make_images(10, 2, shape=(4, 4))
    arrays = {
        "x_train": x.astype(np.int16),
        "y_train": y.astype(np.float64),
        "x_test": x[:3],
        "y_test": y[:3],
    }
    for key, value in edits.items():
        arrays[key] = value(arrays[key]) if callable(value) else value
    np.savez(tmp_path / "data.npz", **{k: v for k, v in arrays.items() if v is not None})
    return ["--train", tmp_path / "data.npz", "--test", tmp_path / "data.npz"]


def _with_classes(tmp_path, names, source_args):
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    return [*source_args, "--classes", tmp_path / "names.txt"]


def _set(array, index, value):
    array = array.copy()
    array[index] = value
    return array


_IMPORT_SOURCES = {
    "ragged CSV row": (
        lambda t: _bad_csv(t, _drop_cell(5)),
        ["train.csv", "line 5", "has 16 values, expected 17 like the header"],
    ),
    "non-integer CSV label": (
        lambda t: _bad_csv(t, _set_cell(4, 1, "2.5")),
        ["train.csv", "line 4", "label '2.5' is not an integer"],
    ),
    "CSV pixel above 255": (
        lambda t: _bad_csv(t, _set_cell(3, 7, "300")),
        ["train.csv", "line 3", "column 7 (pixel6)", "pixel value 300 is outside 0-255"],
    ),
    "CSV pixel negative": (
        lambda t: _bad_csv(t, _set_cell(9, 2, "-1")),
        ["train.csv", "line 9", "column 2 (pixel1)", "pixel value -1 is outside 0-255"],
    ),
    "CSV pixel not an integer": (
        lambda t: _bad_csv(t, _set_cell(2, 17, "0.5")),
        ["train.csv", "line 2", "column 17", "pixel value '0.5' is not an integer"],
    ),
    "mixed image sizes (CSV)": (
        lambda t: [
            "--train",
            _good_csv(t, (5, 5)).rename(t / "big.csv"),
            "--test",
            _good_csv(t),
        ],
        ["test.csv", "16 pixel columns per image, but the training images are 5x5"],
    ),
    "mixed image sizes (npz)": (
        lambda t: _npz(t, x_test=np.zeros((3, 5, 5), np.uint8)),
        ["data.npz", "x_test: images are 5x5 but the training images are 4x4"],
    ),
    "CSV not square": (
        lambda t: _bad_csv(t, lambda rows: [r.rsplit(",", 1)[0] for r in rows]),
        ["train.csv", "15 pixel columns do not make a square image", "--size H W"],
    ),
    "empty class folder": (
        lambda t: _folders(t, empty="dress"),
        ["train/dress", "class folder holds no pictures"],
    ),
    "corrupt picture": (
        lambda t: _folders(t, corrupt=True),
        ["train/coat/0005.png"],
    ),
    "CSV label missing from the classes": (
        lambda t: _with_classes(t, ["a", "b"], _bad_csv(t, _set_cell(6, 1, "c"))),
        ["train.csv", "line 6", "label 'c' is not one of the 2 classes listed in", "names.txt"],
    ),
    "CSV index beyond the classes": (
        lambda t: _with_classes(t, ["a", "b"], _bad_csv(t, _set_cell(3, 1, "5"))),
        ["train.csv", "line 3", "label 5 is not one of the 2 classes"],
    ),
    "class folder missing from the classes": (
        lambda t: _with_classes(t, NAMES, _folders(t, extra_class="dress")),
        ["test/dress", "label 'dress' is not one of the 3 classes"],
    ),
    "npz pixel out of range": (
        lambda t: _npz(t, x_train=lambda x: _set(x, (3, 2, 1), 256)),
        ["data.npz", "x_train[3]", "pixel value 256 is outside 0-255"],
    ),
    "npz non-integer label": (
        lambda t: _npz(t, y_train=lambda y: _set(y, 2, 1.5)),
        ["data.npz", "y_train[2]", "label 1.5 is not an integer"],
    ),
    "npz without the arrays": (
        lambda t: _npz(t, x_train=None, y_train=None, x_test=None),
        ["data.npz", "holds y_test; expected x_train/y_train (the Keras layout) or x/y"],
    ),
    "npz counts differ": (
        lambda t: _npz(t, y_train=lambda y: y[:-1]),
        ["data.npz", "y_train has shape (9,) but x_train holds 10 images"],
    ),
    "same data twice": (
        lambda t: ["--train", _good_csv(t), "--test", t / "test.csv"],
        ["--train and --test both read the same data"],
    ),
    "unknown format": (
        lambda t: ["--train", _good_csv(t).rename(t / "data.txt"), "--test", t / "data.txt"],
        ["--train", "data.txt: cannot tell its format"],
    ),
    "missing source": (
        lambda t: ["--train", t / "nowhere.csv", "--test", _good_csv(t)],
        ["nowhere.csv: no such file or folder"],
    ),
    "a classes file that does not exist": (
        lambda t: [*_bad_csv(t, lambda rows: rows), "--classes", t / "names.txt"],
        ["--classes", "names.txt: no such file"],
    ),
}


def _import_case(case: str) -> BadInput:
    make_sources, needles = _IMPORT_SOURCES[case]

    def make(folder: Path, model: Path) -> list:
        source = folder / "src"
        source.mkdir()
        # Folders the import creates are removed again after a failure: "out" must not stay.
        return ["data", "import", *make_sources(source), "--out", folder / "out" / "data"]

    return BadInput(f"data import: {case}", make, tuple(needles))


IMPORTS = [_import_case(case) for case in _IMPORT_SOURCES]


def _export_case(case, onnx_path: Callable[[Path], Path], *expect, run=None) -> BadInput:
    """`export RUN --onnx FILE`: RUN is the small model unless `run` makes another."""

    def make(folder: Path, model: Path) -> list:
        return ["export", run(folder) if run else model, "--onnx", onnx_path(folder)]

    return BadInput(f"export: {case}", make, expect)


def _folder_named(path: Path) -> Path:
    path.mkdir()
    return path


EXPORT = [
    _export_case(
        "a folder that is not a run",
        lambda folder: folder / "model.onnx",
        "not a softmaxreg run",
        run=lambda folder: _folder_named(folder / "photos"),
    ),
    _export_case(
        "a run that does not exist",
        lambda folder: folder / "model.onnx",
        "nowhere: no such file or folder",
        run=lambda folder: folder / "nowhere",
    ),
    _export_case(
        "`--onnx` in a folder that does not exist",
        lambda folder: folder / "out" / "model.onnx",
        "--onnx",
        "out/model.onnx",
        "does not exist; create it first",
    ),
    _export_case(
        "`--onnx` naming a folder",
        lambda folder: _folder_named(folder / "exports"),
        "--onnx",
        "exports: is a folder; pass a file name ending in .onnx",
    ),
    _export_case(
        "`--onnx` naming the run's model file",
        lambda folder: folder / "model.safetensors",
        "--onnx: expected a file name ending in .onnx",
    ),
    BadInput(
        "export: no `--onnx`",
        lambda folder, model: ["export", model],
        ("the following arguments are required: --onnx",),
    ),
]


# `softmaxreg serve`: refused before it serves (were one accepted, the command would serve
# until run_cli's timeout).

_HELD_SOCKETS: list[socket.socket] = []


def _port_in_use(folder: Path, model: Path) -> list:
    """A port another server listens on while the command runs (kept open until the next
    case asks for one, or the process ends)."""
    while _HELD_SOCKETS:
        _HELD_SOCKETS.pop().close()
    sock = socket.create_server(("127.0.0.1", 0))
    _HELD_SOCKETS.append(sock)
    return ["serve", model, "--port", sock.getsockname()[1]]


SERVING = [
    BadInput(
        "serve: a folder that is not a run",
        lambda folder, model: ["serve", folder, "--port", "0"],
        ("not a softmaxreg run",),
    ),
    BadInput(
        "serve: a model file that does not exist",
        lambda folder, model: ["serve", folder / "model.safetensors", "--port", "0"],
        ("model.safetensors: no such file or folder",),
    ),
    BadInput(
        "serve: `--port 70000`",
        lambda folder, model: ["serve", model, "--port", "70000"],
        ("--port must be a port number from 0 to 65535", "got 70000"),
    ),
    BadInput(
        "serve: `--port -1`",
        lambda folder, model: ["serve", model, "--port", "-1"],
        ("--port must be a port number from 0 to 65535", "got -1"),
    ),
    BadInput(
        "serve: `--port http`",
        lambda folder, model: ["serve", model, "--port", "http"],
        ("argument --port: invalid int value: 'http'",),
    ),
    BadInput("serve: a port in use", _port_in_use, ("--port", "is already in use", "--port 0")),
    BadInput(
        "serve: `--host` that is not an address of this machine",
        # TEST-NET-1 (RFC 5737): never a local address; binding to it sends nothing.
        lambda folder, model: ["serve", model, "--host", "192.0.2.1", "--port", "0"],
        ("--host 192.0.2.1: not an address of this machine",),
    ),
]

# Experiments: sweeps (every bad argument is refused before any run starts), compare, runs.


def _sweep_case(case, args, *expect, out="out") -> BadInput:
    def make(folder: Path, model: Path) -> list:
        data = write_dataset(folder / "data", names=["a", "b", "c"])
        where = {"out": folder / "out", "model": model}.get(out) or _other_sweep(folder)
        return ["sweep", "--dataset", "idx", "--data-dir", data, *args, "--out", where]

    return BadInput(f"sweep: {case}", make, expect)


def _other_sweep(folder: Path) -> Path:
    from softmaxreg.records.sweepdir import SweepDir

    runs = {"lr=0.5": {"lr": 0.5}, "lr=1": {"lr": 1.0}}
    return SweepDir.prepare(folder / "old", runs, "softmaxreg sweep --lr 0.5,1 --out old").path


def _damaged_metrics(folder: Path, model: Path) -> Path:
    """A copy of the small run whose metrics.csv lost the end of its last line."""
    import shutil

    run = Path(shutil.copytree(model, folder / "run"))
    lines = (run / "metrics.csv").read_text().splitlines()
    lines[-1] = ",".join(lines[-1].split(",")[:3])
    (run / "metrics.csv").write_text("\n".join(lines) + "\n")
    return run


EXPERIMENTS = [
    _sweep_case("an empty list (`--lr ''`)", ["--lr", ""], "--lr: no values given"),
    _sweep_case(
        "an empty value (`--lr 0.1,,0.3`)",
        ["--lr", "0.1,,0.3"],
        "--lr: an empty value in '0.1,,0.3'",
    ),
    _sweep_case(
        "a value that is not a number (`--lr 0.1,abc`)",
        ["--lr", "0.1,abc"],
        "--lr: 'abc' is not a number",
    ),
    _sweep_case("`--epochs 5,2.5`", ["--epochs", "5,2.5"], "--epochs: '2.5' is not a whole number"),
    _sweep_case(
        "a value out of range (`--lr 0.1,-1`)",
        ["--lr", "0.1,-1"],
        "--lr must be a positive finite number, got -1.0",
    ),
    _sweep_case(
        "a value listed twice (`--lr 0.1,0.10`)", ["--lr", "0.1,0.10"], "--lr: 0.1 is listed twice"
    ),
    _sweep_case(
        "an unknown choice (`--schedule constant,linear`)",
        ["--schedule", "constant,linear"],
        "--schedule: unknown schedule 'linear'; choose one of: constant, cosine",
    ),
    _sweep_case(
        "an unknown setting (`--colour red`)",
        ["--colour", "red"],
        "unrecognized arguments: --colour red",
    ),
    _sweep_case(
        "a combination a run refuses (`--early-stop 3` without a validation split)",
        ["--lr", "0.1,0.2", "--early-stop", "3"],
        "run lr=0.1: --early-stop watches the validation loss",
        "add --val-fraction",
    ),
    _sweep_case(
        "a validation split that leaves nothing to train on",
        ["--val-fraction", "0.1,0.995"],
        "--val-fraction 0.995 of 120 training examples leaves none to train on",
    ),
    _sweep_case("`--jobs 0`", ["--jobs", "0"], "--jobs must be a positive integer, got 0"),
    _sweep_case(
        "`--out` holding another sweep",
        ["--lr", "0.5,2"],
        "holds another sweep",
        "repeat its own command to finish it (softmaxreg sweep --lr 0.5,1 --out old)",
        out="old",
    ),
    _sweep_case(
        "`--out` holding a run", ["--lr", "0.5,2"], "holds a run, not a sweep", out="model"
    ),
    BadInput(
        "compare: a folder without runs",
        lambda folder, model: ["compare", folder],
        ("holds no softmaxreg runs; pass run folders or a folder of runs",),
    ),
    BadInput(
        "compare: a run that does not exist",
        lambda folder, model: ["compare", model, folder / "nowhere"],
        ("nowhere: no such folder",),
    ),
    BadInput(
        "compare: `--out` not an .html file",
        lambda folder, model: ["compare", model, "--out", folder / "page.txt"],
        ("--out: expected a file name ending in .html",),
    ),
    BadInput(
        "report: a run whose metrics.csv is damaged",
        lambda folder, model: ["report", _damaged_metrics(folder, model)],
        ("run/metrics.csv: line 2: has 3 values, expected 5 like the header",),
    ),
    BadInput(
        "runs: a folder that does not exist",
        lambda folder, model: ["runs", folder / "nowhere"],
        ("nowhere: no such folder; pass the folder that holds your runs",),
    ),
    _flag_case(
        "`--early-stop` without `--val-fraction`",
        ["--early-stop", "3"],
        "--early-stop watches the validation loss, so it needs a validation split: add "
        "--val-fraction (e.g. 0.1)",
    ),
    _flag_case(
        "`--val-fraction 1`", ["--val-fraction", "1"], "--val-fraction must be a number in [0, 1)"
    ),
    BadInput(
        "`--val-fraction` that leaves nothing to train on",
        lambda folder, model: _train_args(
            folder,
            "--dataset",
            "idx",
            "--data-dir",
            write_dataset(folder / "d"),
            "--val-fraction",
            "0.999",
        ),
        ("--val-fraction 0.999 of 120 training examples leaves none to train on",),
    ),
]

CASES: list[BadInput] = (
    DATA_FILES + ARGUMENTS + PREDICTION + IMPORTS + EXPORT + SERVING + EXPERIMENTS
)
