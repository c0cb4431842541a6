"""Write docs/bad-inputs.md: every bad input tried, and the one line the user sees.

Each case runs the real CLI (in this process) against files made here; the tests in
tests/test_cli.py, test_predict.py, test_checkpoint.py, test_training.py and test_idx.py
check the same cases. Usage: python scripts/bad_inputs_table.py
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_dataset  # noqa: E402

from softmaxreg.cli import main  # noqa: E402


def header(type_byte=8, dims=(2, 28, 28), magic=b"\0\0"):
    return magic + bytes([type_byte, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def run(args) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue().strip()


def main_table() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    os.environ["SOFTMAXREG_CACHE"] = str(tmp / "cache")
    noise = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    idx_cases = {
        "truncated payload": ("train-images-idx3-ubyte.gz",
                              gzip.compress(header(dims=(120, 28, 28)) + noise)),
        "wrong magic": ("train-images-idx3-ubyte.gz", gzip.compress(header(magic=b"PK"))),
        "wrong type byte": ("train-images-idx3-ubyte.gz",
                            gzip.compress(header(type_byte=0x0D) + bytes(6272))),
        "wrong number of dims": ("train-images-idx3-ubyte.gz",
                                 gzip.compress(header(dims=(120,)) + bytes(120))),
        "empty file": ("t10k-labels-idx1-ubyte.gz", b""),
        "a .gz that is not gzip": ("t10k-labels-idx1-ubyte.gz", header(dims=(40,)) + bytes(40)),
        "2^31 images declared": ("train-images-idx3-ubyte.gz",
                                 gzip.compress(header(dims=(2**31, 28, 28)))),
        "gzip bomb (more data than declared)": ("t10k-labels-idx1-ubyte.gz",
                                                gzip.compress(header(dims=(40,)) + bytes(10**7))),
        "image/label count mismatch": ("train-labels-idx1-ubyte.gz",
                                       gzip.compress(header(dims=(100,)) + bytes(100))),
        "label outside classes.txt": ("train-labels-idx1-ubyte.gz",
                                      gzip.compress(header(dims=(120,)) + bytes([7]) * 120)),
    }  # fmt: skip
    rows = []
    for i, (case, (name, content)) in enumerate(idx_cases.items()):
        folder = write_dataset(tmp / f"d{i}", names=["a", "b", "c"])
        (folder / name).write_bytes(content)
        rows.append((case, ["train", "--dataset", "idx", "--data-dir", folder]))
    d = write_dataset(tmp / "dirfile", names=["a", "b", "c"])
    (d / "train-labels-idx1-ubyte.gz").unlink()
    (d / "train-labels-idx1-ubyte").mkdir()
    rows.append(("a directory where a file is expected",
                 ["train", "--dataset", "idx", "--data-dir", d]))  # fmt: skip
    d = write_dataset(tmp / "missing", names=["a", "b", "c"])
    (d / "t10k-images-idx3-ubyte.gz").unlink()
    rows.append(("a missing file", ["train", "--dataset", "idx", "--data-dir", d]))
    fake = write_dataset(tmp / "fake", n_train=60, n_test=10, classes=10)
    rows.append(("fashion-mnist files whose checksum does not match",
                 ["train", "--data-dir", fake]))  # fmt: skip
    for flag, value in (("--epochs", "0"), ("--batch-size", "0"), ("--lr", "-1"),
                        ("--dataset", "cifar"), ("--lr", "abc")):  # fmt: skip
        rows.append((f"`{flag} {value}`", ["train", flag, value]))
    rows.append(("`--lr 1e38` (divergence)", ["train", "--lr", "1e38", "--out", tmp / "div"]))
    images = tmp / "images"
    images.mkdir()
    from PIL import Image

    real = images / "real.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(real)
    (images / "truncated.png").write_bytes(real.read_bytes()[:400])
    (images / "notes.txt").write_text("hello")
    chunk = b"IHDR" + struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    (images / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
                                      + struct.pack(">I", zlib.crc32(chunk))
                                      + b"\0\0\0\0IEND\xaeB`\x82")  # fmt: skip
    (images / "empty").mkdir()
    model = tmp / "run"
    run(["train", "--dataset", "idx", "--data-dir", write_dataset(tmp / "ok"), "--epochs", "1",
         "--out", model, "-q"])  # fmt: skip
    for case, name in (("a corrupt (truncated) image", "truncated.png"),
                       ("a file that is not an image", "notes.txt"),
                       ("an image of 20000x20000 pixels", "huge.png"),
                       ("an empty directory", "empty"), ("a path that does not exist", "nope.png")):
        rows.append((f"predict: {case}", ["predict", "--model", model, images / name]))
    import torch

    torch.save({"w": torch.zeros(1)}, tmp / "model.pt")
    rows.append(("a pickle file given as a model", ["predict", "--model", tmp / "model.pt", real]))
    rows.append(("a folder that is not a run", ["train", "--resume", images]))
    rows.append(("`--out` holding a finished run", ["train", "--dataset", "idx", "--data-dir",
                                                     tmp / "ok", "--out", model]))  # fmt: skip
    lines = ["# Bad input and what the user sees", "",
             "Every case exits with status 2 (usage errors too) and prints exactly one line on",
             "stderr, with no traceback; no run folder, cache entry or half-written file is left",
             "behind. Generated by `python scripts/bad_inputs_table.py`; each row is checked by",
             "the test suite. Temporary paths are shortened to `…/`.", "",
             "| input | exit | message |", "|---|---|---|"]  # fmt: skip
    for case, args in rows:
        code, err = run(args)
        assert len(err.splitlines()) == 1, (case, err)
        err = err.replace(str(tmp), "…")
        lines.append(f"| {case} | {code} | ``{err}`` |")
    Path("docs/bad-inputs.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main_table()
