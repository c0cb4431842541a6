"""The note beside a cached file (a decoded .npy, a decompressed IDX copy) that says which
source file it was made from: its path, size and modification time. While they match, the
cache is used without reading the source again; when the source changes, it is made anew."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_json

MEMO_VERSION = 1


def source_stamp(path: Path) -> dict[str, Any]:
    """What identifies this version of the source file."""
    st = path.stat()
    return {"source": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def memo_matches(memo: Path, stamp: dict[str, Any], **facts: Any) -> bool:
    """Whether `memo` was written for the source `stamp` describes, with these `facts` (a
    checksum, say). A missing or damaged memo matches nothing."""
    try:
        record = json.loads(memo.read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(record, dict)
        and record.get("version") == MEMO_VERSION
        and record.get("stamp") == stamp
        and all(record.get(key) == value for key, value in facts.items())
    )


def write_memo(memo: Path, stamp: dict[str, Any], **facts: Any) -> None:
    """Record (atomically) that the cache beside `memo` was made from the source `stamp`."""
    atomic_write_json(memo, {"version": MEMO_VERSION, "stamp": stamp, **facts})
