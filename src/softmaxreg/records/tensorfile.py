"""softmaxreg's files of tensors: safetensors with a JSON metadata entry; never pickle.

Every file says in its header what it is (`kind`: "model" or "checkpoint"), which format
version wrote it and any metadata its writer added; readers check all of it before they use a
single value. Arrays are numpy's, so reading a model needs neither torch nor its import time.
Pickle files are refused outright: loading one can run arbitrary code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from ..version import __version__

FORMAT = "softmaxreg"
FORMAT_VERSION = 1
PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt"}


def tensor_bytes(arrays: dict[str, np.ndarray], kind: str, meta: dict[str, Any]) -> bytes:
    """A file's whole content, made now: later changes to the arrays do not reach it."""
    from safetensors.numpy import save

    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "softmaxreg": __version__,
        "kind": kind,
    }
    # What the file is is said here alone: `meta` read from another file (a checkpoint's, say)
    # carries that file's kind and version, which must not pass for this one's.
    kept = {key: value for key, value in meta.items() if key not in header}
    metadata = {FORMAT: json.dumps({**header, **kept})}
    return save({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata=metadata)


def read_tensors(path: Path, kinds: tuple[str, ...]) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and metadata of a softmaxreg file of one of `kinds`, checked."""
    from safetensors import SafetensorError, safe_open

    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder; pass a .safetensors file or a run folder")
    if path.suffix.lower() in PICKLE_SUFFIXES or _looks_pickled(path):
        raise CheckpointError(
            f"{path}: looks like a pickle file; softmaxreg never unpickles, since loading a "
            "pickle can run arbitrary code; save the weights with "
            "safetensors.torch.save_file(model.state_dict(), 'model.safetensors') instead"
        )
    try:
        with safe_open(str(path), framework="np") as f:
            raw_meta = (f.metadata() or {}).get(FORMAT)
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - not a dict
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: not a readable safetensors file ({str(exc).splitlines()[0][:120]}); "
            "pass a model.safetensors written by softmaxreg"
        ) from None
    if raw_meta is None:
        raise CheckpointError(
            f"{path}: safetensors file without softmaxreg metadata; pass a model written by "
            "`softmaxreg train`"
        )
    try:
        meta = json.loads(raw_meta)
        if not isinstance(meta, dict):
            raise ValueError
    except ValueError:
        raise CheckpointError(f"{path}: its softmaxreg metadata is not valid JSON") from None
    version = meta.get("format_version")
    if meta.get("format") != FORMAT or not isinstance(version, int):
        raise CheckpointError(f"{path}: metadata does not describe a softmaxreg file")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: written by softmaxreg {meta.get('softmaxreg', '?')} in file format "
            f"{version}; this softmaxreg ({__version__}) reads format {FORMAT_VERSION}; upgrade"
        )
    if meta.get("kind") not in kinds:
        raise CheckpointError(
            f"{path}: is a {meta.get('kind')!r} file, expected {' or '.join(kinds)}"
        )
    return arrays, meta


def _looks_pickled(path: Path) -> bool:
    # torch.save writes a zip archive (PK..); plain pickles start with the PROTO opcode 0x80.
    # A safetensors file starts with its header's length (8 bytes, little-endian), whose first
    # two bytes can be anything, then the header's "{": that is checked first.
    try:
        with open(path, "rb") as f:
            head = f.read(9)
    except OSError:
        return False
    if len(head) == 9 and head[8:] == b"{":
        return False
    return head[:2] == b"PK" or (len(head) >= 2 and head[0] == 0x80 and head[1] <= 5)
