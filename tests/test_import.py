"""`softmaxreg data import`: class folders, CSV and .npz sources become an IDX data set that
trains exactly like the original, in bounded memory, or are refused with one line that names
the file and the row or picture, leaving the output folder as it was."""

import contextlib
import fcntl
import gzip
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import (
    NAMES,
    kaggle_header,
    make_images,
    make_picture_folders,
    peak_memory_line,
    run_cli,
    write_csv,
)
from softmaxreg.data import load_dataset, read_idx
from softmaxreg.data.idx import IdxWriter, encode_idx
from softmaxreg.data.importing import import_dataset
from softmaxreg.data.importing.labels import LabelCoder
from softmaxreg.data.pictures import load_image
from softmaxreg.errors import ConfigError, DataError

# Digits of 0..255 as 4 bytes each (unused ones 0), then the separator: CSV text of a large
# table by array operations, since formatting 55 million numbers one by one takes seconds.
_DIGITS = np.zeros((256, 4), dtype=np.uint8)
for _value in range(256):
    _text = str(_value).encode()
    _DIGITS[_value, : len(_text)] = list(_text)
    _DIGITS[_value, 3] = ord(",")


def csv_rows(table: np.ndarray) -> bytes:
    chars = _DIGITS[table]
    chars[:, -1, 3] = ord("\n")
    flat = chars.reshape(-1)
    return flat[flat != 0].tobytes()


def write_big_csv(path: Path, images, labels) -> Path:
    table = np.concatenate([labels[:, None], images.reshape(len(images), -1)], axis=1)
    with open(path, "wb") as f:
        f.write(kaggle_header(table.shape[1] - 1).encode())
        for start in range(0, len(table), 10_000):
            f.write(csv_rows(table[start : start + 10_000]))
    return path


def import_cli(*args):
    return run_cli("data", "import", *args)


def assert_one_line_error(rc, out, err, *needles):
    assert rc == 2, (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def assert_dataset(out: Path, splits, classes):
    d = load_dataset("idx", out)
    assert d.classes == tuple(classes)
    for name, (images, labels) in zip(("train", "test"), splits, strict=True):
        got_images, got_labels = d.split(name)
        np.testing.assert_array_equal(got_images, images)
        np.testing.assert_array_equal(got_labels, labels)
    assert {p.name for p in out.iterdir()} == {
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        "classes.txt",
    }


@pytest.fixture
def splits():
    return make_images(50, 3, seed=1), make_images(20, 3, seed=2)


# ---- round trips


@pytest.mark.parametrize("layout", ["kaggle", "no header", "label last", "gzip"])
def test_csv_round_trip_keeps_order_and_numbers_the_classes(tmp_path, splits, layout):
    paths = []
    for name, (x, y) in zip(("train", "test"), splits, strict=True):
        path = tmp_path / f"{name}.csv"
        if layout == "label last":
            flat = x.reshape(len(x), -1)
            header = ",".join(f"p{i}" for i in range(784)) + ",Label\n"
            rows = [",".join(map(str, [*r, label])) for r, label in zip(flat, y, strict=True)]
            path.write_text(header + "\n".join(rows) + "\n")
        else:
            write_csv(path, x, y, header=layout != "no header")
        if layout == "gzip":
            path = path.with_suffix(".csv.gz")
            path.write_bytes(gzip.compress((tmp_path / f"{name}.csv").read_bytes()))
        paths.append(path)
    out = tmp_path / "out"
    rc, stdout, err = import_cli("--train", paths[0], "--test", paths[1], "--out", out)
    assert rc == 0 and err == "", err
    assert "50 training and 20 test images of 28x28, 3 classes" in stdout
    assert f"softmaxreg train --dataset idx --data-dir {out}" in stdout
    assert_dataset(out, splits, ["0", "1", "2"])


def test_csv_names_become_sorted_classes(tmp_path, splits):
    """Names are numbered in sorted order whatever order they first appear in, and a row
    whose label is quoted and padded is the same class."""
    (x, y), (tx, ty) = splits
    order = np.array(["shirt", "coat", "bag"])
    assert order[y[0]] != "bag"  # not first in sorted order: ids are renumbered at the end
    write_csv(tmp_path / "train.csv", x, order[y])
    test_labels = [f'" {name}"' if i % 2 else name for i, name in enumerate(order[ty])]
    write_csv(tmp_path / "test.csv", tx, test_labels)
    summary = import_dataset(tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "out")
    sorted_ids = np.array([2, 1, 0])  # shirt -> 2, coat -> 1, bag -> 0
    assert_dataset(tmp_path / "out", [(x, sorted_ids[y]), (tx, sorted_ids[ty])], NAMES)
    assert summary.classes == NAMES
    assert summary.counts["train"].tolist() == np.bincount(sorted_ids[y]).tolist()


def test_classes_file_takes_names_or_indices_in_its_own_order(tmp_path, splits):
    (x, y), (tx, ty) = splits
    listing = tmp_path / "classes.txt"
    listing.write_text("shirt\ncoat\n\nbag\nsock\n")  # blank lines ignored; sock unused
    names = np.array(["shirt", "coat", "bag"])
    write_csv(tmp_path / "train.csv", x, names[y])
    write_csv(tmp_path / "test.csv", tx, ty)  # indices into the listing
    with pytest.warns(UserWarning, match=r"1 of 4 classes have no training examples \(sock\)"):
        import_dataset(
            tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "out", classes_file=listing
        )
    assert_dataset(tmp_path / "out", splits, ["shirt", "coat", "bag", "sock"])


def test_label_rules():
    coder = LabelCoder()
    ids = coder.encode(np.array(["2", "0", " 2 ", "1.0"], dtype=object), lambda i: ("f", ""))
    assert ids.tolist() == [0, 1, 0, 2]  # provisional, in order of appearance
    classes, table = coder.finish()
    assert classes == ("0", "1", "2") and table[ids].tolist() == [2, 0, 2, 1]
    # A listed name wins over the same text read as an index.
    listed = LabelCoder(["5", "7"], Path("c.txt"))
    assert listed.encode(np.array(["7", "0"], dtype=object), lambda i: ("f", "")).tolist() == [1, 0]
    for bad, message in [("2.5", "not an integer"), ("nan", "not an integer"), ("", "empty")]:
        with pytest.raises(DataError, match=f"f: line 9: .*{message}"):
            LabelCoder().encode(np.array([bad], dtype=object), lambda i: (Path("f"), "line 9"))
    coder = LabelCoder()
    coder.encode(np.array(["3", "300"], dtype=object), lambda i: (Path("f"), f"line {i + 2}"))
    with pytest.raises(DataError, match="f: line 3: label 300 is not a class id 0-255"):
        coder.finish()
    with pytest.raises(DataError, match="would be class number 257"):
        LabelCoder().encode(
            np.array([f"c{i}" for i in range(257)], dtype=object), lambda i: (Path("f"), "")
        )


def test_npz_keras_layout_and_plain_x_y_files(tmp_path, splits):
    (x, y), (tx, ty) = splits
    keras = tmp_path / "keras.npz"
    # Channels-last images and a deflated archive: read through the zip stream all the same.
    np.savez_compressed(
        keras,
        x_train=x[..., None],
        y_train=y.astype(np.int64),
        x_test=tx[..., None],
        y_test=ty.astype(np.int64),
    )
    rc, _, err = import_cli("--train", keras, "--test", keras, "--out", tmp_path / "k")
    assert rc == 0, err
    assert_dataset(tmp_path / "k", splits, ["0", "1", "2"])
    # x/y files: flat float pixels (whole numbers) and names as labels.
    np.savez(tmp_path / "train.npz", x=x.reshape(50, -1).astype(np.float32), y=np.array(NAMES)[y])
    np.savez(tmp_path / "test.npz", x=tx, y=np.array(NAMES)[ty].astype("S"))
    import_dataset(tmp_path / "train.npz", tmp_path / "test.npz", tmp_path / "p", chunk_rows=7)
    assert_dataset(tmp_path / "p", splits, NAMES)


def test_class_folders_are_prepared_like_predict_in_imagefolder_order(tmp_path, splits):
    (x, y), (tx, ty) = splits
    make_picture_folders(tmp_path / "train", x, y)
    # The test split has no "shirt" folder: ids still follow the training set's classes.
    keep = ty != 2
    make_picture_folders(tmp_path / "test", tx[keep], ty[keep])
    # Nested pictures count (as in ImageFolder); other files are skipped, hidden ones ignored.
    nested = tmp_path / "train" / "coat" / "more" / "big.jpg"
    nested.parent.mkdir()
    Image.new("RGB", (60, 30), "white").save(nested)
    (tmp_path / "train" / "coat" / "more" / "notes.txt").write_text("not a picture")
    (tmp_path / "train" / "bag" / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "train" / "README.md").write_text("about this data set")
    out = tmp_path / "out"
    rc, stdout, err = import_cli(
        "--train", tmp_path / "train", "--test", tmp_path / "test", "--out", out
    )
    assert rc == 0 and err == "", err
    assert "skipped 2 files in the class folders" in stdout

    def expected(folder):
        # ImageFolder's order: per class, the folder's own pictures, then its subfolders'.
        order = [
            p
            for c in NAMES
            for pattern in ("*.png", "*/*.jpg")
            for p in sorted((folder / c).glob(pattern))
        ]
        return np.stack([load_image(p) for p in order])

    d = load_dataset("idx", out)
    assert d.classes == NAMES
    np.testing.assert_array_equal(d.train_images, expected(tmp_path / "train"))
    np.testing.assert_array_equal(d.test_images, expected(tmp_path / "test"))
    per_class = np.bincount(y, minlength=3) + [0, 1, 0]  # big.jpg is a coat
    np.testing.assert_array_equal(d.train_labels, np.repeat([0, 1, 2], per_class))
    np.testing.assert_array_equal(d.test_labels, np.sort(ty[keep]))


def test_size_option_shapes_csv_rows_and_fits_pictures(tmp_path):
    x, y = make_images(12, 2, shape=(6, 10))  # 60 columns: not a square
    write_csv(tmp_path / "train.csv", x, np.array(["a", "b"])[y])
    make_picture_folders(tmp_path / "test", x[:4], y[:4], names=("a", "b"))
    (tmp_path / "test" / "b" / "wide.png").parent.mkdir(exist_ok=True)
    Image.new("L", (40, 10), 200).save(tmp_path / "test" / "b" / "wide.png")
    rc, stdout, err = import_cli(
        "--train",
        tmp_path / "train.csv",
        "--test",
        tmp_path / "test",
        "--size",
        "6",
        "10",
        "--out",
        tmp_path / "out",
    )
    assert rc == 0, err
    d = load_dataset("idx", tmp_path / "out")
    assert d.image_shape == (6, 10) and d.classes == ("a", "b")
    np.testing.assert_array_equal(d.train_images, x)
    np.testing.assert_array_equal(d.train_labels, y)
    wide = load_image(tmp_path / "test" / "b" / "wide.png", (6, 10))
    np.testing.assert_array_equal(d.test_images[-1], wide)


def test_failed_overwrite_leaves_the_old_data_set_untouched(tmp_path, splits):
    (x, y), (tx, ty) = splits
    write_csv(tmp_path / "train.csv", x, y)
    write_csv(tmp_path / "test.csv", tx, ty)
    out = tmp_path / "out"
    args = ["--train", tmp_path / "train.csv", "--test", tmp_path / "test.csv", "--out", out]
    assert import_cli(*args)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    rc, so, err = import_cli(*args)
    assert_one_line_error(rc, so, err, f"--out {out} already holds a data set", "--overwrite")
    # A failure late in the test split, after the whole training split was written.
    rows = (tmp_path / "test.csv").read_text().splitlines()
    rows[-1] = rows[-1] + ",0"
    (tmp_path / "test.csv").write_text("\n".join(rows) + "\n")
    rc, so, err = import_cli(*args, "--overwrite")
    assert_one_line_error(rc, so, err, "test.csv", "line 21", "has 786 values")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temporary files


def test_overwrite_replaces_a_gzipped_data_set(tmp_path, tiny_dir, splits):
    """`--dataset idx` prefers .gz files: the old ones must not shadow the new."""
    (x, y), (tx, ty) = splits
    np.savez(tmp_path / "train.npz", x=x, y=y)
    np.savez(tmp_path / "test.npz", x=tx, y=ty)
    with pytest.raises(ConfigError, match="already holds a data set"):
        import_dataset(tmp_path / "train.npz", tmp_path / "test.npz", tiny_dir)
    import_dataset(tmp_path / "train.npz", tmp_path / "test.npz", tiny_dir, overwrite=True)
    assert not list(tiny_dir.glob("*.gz"))
    assert_dataset(tiny_dir, splits, ["0", "1", "2"])


def test_a_failure_while_the_new_files_are_made_durable_keeps_the_old_set(
    tmp_path, tiny_dir, splits, monkeypatch
):
    """The new files are all written and fsynced before an old one is removed or replaced:
    a full disk reported by fsync (as delayed allocation reports it) changes nothing."""
    import errno
    import stat

    (x, y), (tx, ty) = splits
    np.savez(tmp_path / "train.npz", x=x, y=y)
    np.savez(tmp_path / "test.npz", x=tx, y=ty)
    before = {p.name: p.read_bytes() for p in tiny_dir.iterdir()}
    real_fsync, synced = os.fsync, []

    def fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):
            synced.append(fd)
            if len(synced) == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="No space left"):
        import_dataset(tmp_path / "train.npz", tmp_path / "test.npz", tiny_dir, overwrite=True)
    assert {p.name: p.read_bytes() for p in tiny_dir.iterdir()} == before  # no temporaries


def test_atomic_paths_replace_a_set_and_remove_what_it_supersedes(tmp_path):
    from softmaxreg.fileio import atomic_paths

    (tmp_path / "a").write_text("old a")
    (tmp_path / "stale.gz").write_text("old")
    with atomic_paths([tmp_path / "a", tmp_path / "sub" / "b"], remove=[tmp_path / "stale.gz"]) as (
        a,
        b,
    ):
        a.write_text("new a")
        b.write_text("new b")
        assert (tmp_path / "a").read_text() == "old a" and (tmp_path / "stale.gz").exists()
    assert (tmp_path / "a").read_text() == "new a" and (
        tmp_path / "sub" / "b"
    ).read_text() == "new b"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "sub"]


# ---- streaming


def test_idx_writer_patches_the_count_into_the_header(tmp_path):
    x, y = make_images(10, 3)
    images, labels = IdxWriter(tmp_path / "images", (28, 28)), IdxWriter(tmp_path / "labels", ())
    for block in (slice(0, 4), slice(4, 7), slice(7, 10)):
        images.append(x[block])
        labels.append(y[block])
    assert images.close() == labels.close() == 10
    assert (tmp_path / "images").read_bytes() == encode_idx(x)
    assert read_idx(tmp_path / "labels", ndim=1).array.tolist() == y.tolist()
    # A writer stopped by an error leaves a count of 0, which no reader accepts.
    with pytest.raises(KeyError), IdxWriter(tmp_path / "broken", (28, 28)) as broken:
        broken.append(x)
        raise KeyError
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(tmp_path / "broken")


MEMORY_PROBE = f"""
import sys
import tqdm.auto  # loaded by the import itself: not part of what is measured
from softmaxreg.data.importing import import_dataset
{peak_memory_line()}
import_dataset(sys.argv[1], sys.argv[2], sys.argv[3])
{peak_memory_line()}
"""


@pytest.mark.parametrize("fmt", ["csv", "npz"])
def test_import_runs_in_memory_far_below_the_data_size(tmp_path, fmt):
    """60,000 images (47 MB of pixels, 140 MB as CSV): peak resident memory grows by less than
    a quarter of the pixels, where holding either split whole would take all of them."""
    x, y = make_images(1000, 10, seed=4)
    images, labels = np.tile(x, (60, 1, 1)), np.tile(y, 60)
    if fmt == "csv":
        train = write_big_csv(tmp_path / "train.csv", images, labels)
        test = write_csv(tmp_path / "test.csv", x[:10], y[:10])
    else:
        train, test = tmp_path / "train.npz", tmp_path / "test.npz"
        np.savez(train, x=images, y=labels)
        np.savez(test, x=x[:10], y=y[:10])
    del images
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, train, test, out],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = map(int, proc.stdout.split())
    growth = after - before
    assert growth < 60_000 * 784 / 4, f"peak RSS grew by {growth / 2**20:.1f} MiB"
    d = load_dataset("idx", out)
    assert d.train_images.shape == (60_000, 28, 28)
    np.testing.assert_array_equal(d.train_images[-1000:], x)


def test_progress_bar_on_a_terminal_only(tmp_path, splits):
    (x, y), (tx, ty) = splits
    write_csv(tmp_path / "train.csv", x, y)
    write_csv(tmp_path / "test.csv", tx, ty)
    args = ["--train", tmp_path / "train.csv", "--test", tmp_path / "test.csv"]
    rc, _, err = import_cli(*args, "--out", tmp_path / "a")
    assert rc == 0 and err == ""
    leader, follower = pty.openpty()
    # A new terminal is 0 columns wide, and tqdm draws nothing in that.
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    command = [
        sys.executable,
        "-m",
        "softmaxreg",
        "data",
        "import",
        *map(str, args),
        "--out",
        str(tmp_path / "b"),
    ]
    proc = subprocess.Popen(command, stderr=follower, stdout=subprocess.DEVNULL)
    os.close(follower)
    shown = b""
    with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
        while piece := os.read(leader, 1 << 16):
            shown += piece
    os.close(leader)
    assert proc.wait() == 0 and b"import train" in shown and b"import test" in shown


def test_data_import_does_not_import_torch(tmp_path, splits):
    (x, y), (tx, ty) = splits
    np.savez(tmp_path / "train.npz", x=x, y=y)
    np.savez(tmp_path / "test.npz", x=tx, y=ty)
    argv = [
        "data",
        "import",
        "--train",
        str(tmp_path / "train.npz"),
        "--test",
        str(tmp_path / "test.npz"),
        "--out",
        str(tmp_path / "out"),
    ]
    code = (
        f"import sys; from softmaxreg.cli import main\nassert main({argv!r}) == 0\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# ---- the real data set


def metrics_without_seconds(run: Path) -> list[list[str]]:
    rows = [line.split(",") for line in (run / "metrics.csv").read_text().splitlines()]
    assert rows[0][-1] == "seconds"
    return [row[:-1] for row in rows]


@pytest.mark.realdata
def test_csv_and_npz_copies_of_fashion_mnist_train_exactly_like_the_original(real_data, tmp_path):
    from softmaxreg.config import TrainConfig
    from softmaxreg.training.runner import train_run

    (x, y), (tx, ty) = real_data.split("train"), real_data.split("test")
    write_big_csv(tmp_path / "train.csv", x, y)
    write_big_csv(tmp_path / "test.csv", tx, ty)
    np.savez(tmp_path / "keras.npz", x_train=x, y_train=y, x_test=tx, y_test=ty)
    listing = tmp_path / "names.txt"
    listing.write_text("\n".join(real_data.classes) + "\n")
    import_dataset(
        tmp_path / "train.csv", tmp_path / "test.csv", tmp_path / "from-csv", classes_file=listing
    )
    import_dataset(tmp_path / "keras.npz", tmp_path / "keras.npz", tmp_path / "from-npz")

    original = train_run(TrainConfig(epochs=1), tmp_path / "original", dataset=real_data)
    expected = metrics_without_seconds(original.path)
    for copy in ("from-csv", "from-npz"):
        config = TrainConfig(epochs=1, dataset="idx", data_dir=str(tmp_path / copy))
        run = train_run(config, tmp_path / f"run-{copy}")
        assert metrics_without_seconds(run.path) == expected, copy
    config = json.loads((tmp_path / "run-from-csv" / "config.json").read_text())
    assert config["dataset"]["classes"] == list(real_data.classes)


# ---- messages: the library names its parameters, the command line its flags


def test_import_errors_name_the_python_parameters(tmp_path, splits):
    from softmaxreg.data.importing.folders import FolderSource
    from softmaxreg.data.importing.source import SizeRule

    (x, y), (tx, ty) = splits
    train, test = write_csv(tmp_path / "train.csv", x, y), write_csv(tmp_path / "test.csv", tx, ty)
    (tmp_path / "a-file").write_text("")
    cases = [
        (
            {"train": tmp_path / "nowhere.csv"},
            "train",
            "nowhere.csv: no such file or folder; check train",
        ),
        (
            {"train": tmp_path / "a-file"},
            "train",
            "train " + str(tmp_path / "a-file") + ": cannot tell",
        ),
        ({"test": train}, "train", "train and test both read the same data"),
        ({"size": (0, 5)}, "size", "size must be two positive integers H W, got (0, 5)"),
        ({"out": tmp_path / "a-file"}, "out", f"out {tmp_path / 'a-file'}: is a file"),
        ({"classes_file": tmp_path / "no.txt"}, "classes_file", "classes_file "),
    ]
    for change, param, message in cases:
        args = {"train": train, "test": test, "out": tmp_path / "out", **change}
        with pytest.raises(ConfigError) as caught:
            import_dataset(args.pop("train"), args.pop("test"), args.pop("out"), **args)
        assert caught.value.param == param and message in str(caught.value), str(caught.value)
        assert "--" not in str(caught.value)
    make_picture_folders(tmp_path / "pics", x[:6], y[:6])
    with pytest.raises(ConfigError, match="^invert must be one of auto, yes, no, got 'maybe'$"):
        FolderSource(tmp_path / "pics", SizeRule(None, ""), "maybe", 8)
    with pytest.raises(ConfigError, match="^invert must be one of"):
        load_image(
            tmp_path / "pics" / "bag" / os.listdir(tmp_path / "pics" / "bag")[0], invert="no!"
        )


def test_the_command_line_names_its_flags(tmp_path, splits):
    (x, y), (tx, ty) = splits
    train, test = write_csv(tmp_path / "train.csv", x, y), write_csv(tmp_path / "test.csv", tx, ty)
    missing = tmp_path / "names.txt"
    rc, out, err = import_cli(
        "--train", train, "--test", test, "--out", tmp_path / "o", "--classes", missing
    )
    assert_one_line_error(rc, out, err, f"--classes {missing}: no such file")
    rc, out, err = import_cli("--train", train, "--test", train, "--out", tmp_path / "o")
    assert_one_line_error(rc, out, err, "--train and --test both read the same data")
    rc, out, err = import_cli("--train", train, "--test", test, "--out", train)
    assert_one_line_error(rc, out, err, f"--out {train}: is a file, expected a folder")
