"""Large gzipped IDX files, decompressed once into the user cache and then memory-mapped.

A gzip stream cannot be read at random, and decompressing a multi-gigabyte file into memory
is what the memory limit forbids. So a gzipped file whose header declares more than
`IN_MEMORY_BYTES` is decompressed once, streaming, into
`<cache>/decompressed/<source key>/<name without .gz>`: to a temporary file first, its gzip
CRC and its length against the header checked while it is written, then renamed into place
(atomic: a crash leaves no half file under the name). A JSON beside it records the source's
path, size and modification time and the copy's sha256; while they match, later loads map the
copy at once; when the source changes it is decompressed again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from ..errors import DataError
from ..fileio import atomic_path, atomic_write_json
from .idx import IdxInfo, open_idx, read_header

# Smaller gzipped files are decoded into memory as before (Fashion-MNIST's largest is 47 MB).
IN_MEMORY_BYTES = 256 * 2**20
MEMO_VERSION = 1
_CHUNK = 4 * 2**20


def needs_unpacking(info: IdxInfo) -> bool:
    return info.compressed and info.header.payload > IN_MEMORY_BYTES


def unpacked_copy(info: IdxInfo, cache: Path, *, progress: bool = True) -> Path:
    """The path of a verified uncompressed copy of the gzipped file `info` describes, made
    now unless an up-to-date one is in `cache` already."""
    from filelock import FileLock

    source = info.path
    stamp = _stamp(source)
    folder = copy_folder(cache, source)
    target = folder / source.name.removesuffix(".gz")
    memo = folder / (target.name + ".json")
    expected = info.header.size + info.header.payload
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".lock")):  # one decompression at a time per source
        if _memo_matches(memo, stamp, target, expected):
            return target
        _check_space(source, folder, expected)
        sha256 = _decompress(info, target, progress)
        atomic_write_json(memo, {"version": MEMO_VERSION, "stamp": stamp, "sha256": sha256})
    return target


def copy_folder(cache: Path, source: Path) -> Path:
    """Where the copies of the files of `source`'s folder live: one folder per source file's
    path, so that two data sets with the same file names never share a copy."""
    key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    return cache / "decompressed" / key


def _decompress(info: IdxInfo, target: Path, progress: bool) -> str:
    from tqdm.auto import tqdm

    path, header = info.path, info.header
    digest = hashlib.sha256(header.raw)
    with (
        atomic_path(target) as tmp,
        open_idx(path) as (stream, _, _),
        open(tmp, "wb") as out,
        tqdm(
            total=header.payload,
            unit="B",
            unit_scale=True,
            desc=f"decompressing {path.name}",
            disable=not progress or None,  # None: only on a terminal
            leave=False,
        ) as bar,
    ):
        read_header(path, stream, len(header.dims))
        out.write(header.raw)
        left = header.payload
        while left:
            chunk = stream.read(min(_CHUNK, left))
            if not chunk:
                raise DataError(
                    path,
                    f"truncated payload: {header.payload - left} bytes of data, header "
                    f"declares {header.payload} for dimensions {header.dims}",
                    "replace the file",
                )
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
            bar.update(len(chunk))
        # Reading on to the end checks the gzip CRC and length, and refuses extra data.
        if stream.read(1):
            raise DataError(
                path, f"trailing bytes after the {header.payload}-byte payload", "replace the file"
            )
    return digest.hexdigest()


def _check_space(source: Path, folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DataError(
            source,
            f"needs {needed} bytes decompressed in the cache {folder} but only {free} are free",
            "free some space, point SOFTMAXREG_CACHE at a larger disk, or decompress the file "
            "yourself (gunzip) so that it is memory-mapped in place",
        )


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"source": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _memo_matches(memo: Path, stamp: dict, target: Path, expected: int) -> bool:
    try:
        record = json.loads(memo.read_text())
        return (
            record.get("version") == MEMO_VERSION
            and record.get("stamp") == stamp
            and target.stat().st_size == expected
        )
    except (OSError, ValueError):
        return False
