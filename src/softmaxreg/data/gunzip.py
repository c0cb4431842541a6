"""Large gzipped IDX files, decompressed once into the user cache and then memory-mapped.

A gzip stream cannot be read at random, and decompressing a multi-gigabyte file into memory
is what the memory limit forbids. So a gzipped file whose header declares more than
`IN_MEMORY_BYTES` is decompressed once, streaming, into
`<cache>/decompressed/<source key>/<name without .gz>`: to a temporary file first, its gzip
CRC and its length against the header checked while it is written, then renamed into place
(atomic: a crash leaves no half file under the name). A memo beside it records the source's
path, size and modification time (data.memo); while they match, later loads map the copy at
once; when the source changes it is decompressed again.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from ..errors import DataError
from ..fileio import atomic_path
from .idx import IdxInfo, open_idx, read_header
from .memo import memo_matches, source_stamp, write_memo

# Smaller gzipped files are decoded into memory as before (Fashion-MNIST's largest is 47 MB).
IN_MEMORY_BYTES = 256 * 2**20
_CHUNK = 4 * 2**20


def needs_unpacking(info: IdxInfo) -> bool:
    return info.compressed and info.header.payload > IN_MEMORY_BYTES


def unpacked_copy(info: IdxInfo, cache: Path, *, progress: bool = True) -> Path:
    """The path of a verified uncompressed copy of the gzipped file `info` describes, made
    now unless an up-to-date one is in `cache` already."""
    from filelock import FileLock

    source = info.path
    stamp = source_stamp(source)
    folder = copy_folder(cache, source)
    target = folder / source.name.removesuffix(".gz")
    memo = folder / (target.name + ".json")
    expected = info.header.size + info.header.payload
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".lock")):  # one decompression at a time per source
        if memo_matches(memo, stamp) and _has_size(target, expected):
            return target
        _check_space(source, folder, expected)
        _decompress(info, target, progress)
        write_memo(memo, stamp)
    return target


def copy_folder(cache: Path, source: Path) -> Path:
    """Where the copies of the files of `source`'s folder live: one folder per source file's
    path, so that two data sets with the same file names never share a copy."""
    key = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:16]
    return cache / "decompressed" / key


def _decompress(info: IdxInfo, target: Path, progress: bool) -> None:
    from tqdm.auto import tqdm

    path, header = info.path, info.header
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
            out.write(chunk)
            left -= len(chunk)
            bar.update(len(chunk))
        # Reading on to the end checks the gzip CRC and length, and refuses extra data.
        if stream.read(1):
            raise DataError(
                path, f"trailing bytes after the {header.payload}-byte payload", "replace the file"
            )


def _check_space(source: Path, folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DataError(
            source,
            f"needs {needed} bytes decompressed in the cache {folder} but only {free} are free",
            "free some space, point SOFTMAXREG_CACHE at a larger disk, or decompress the file "
            "yourself (gunzip) so that it is memory-mapped in place",
        )


def _has_size(path: Path, expected: int) -> bool:
    try:
        return path.stat().st_size == expected
    except OSError:
        return False
