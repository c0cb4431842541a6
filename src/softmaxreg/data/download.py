"""Fetch a data set's files from its mirrors into a folder, verified before they get their name.

pooch streams each file to a temporary name and checks upstream's .gz md5; we then decode it and
check the payload's sha256 (or size, where no checksum is known) and only then rename it into
place. A file lock makes two concurrent fetches end with one verified copy.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import DataError
from .idx import read_idx
from .sources import DatasetSpec, FileSpec, download_dir, find_in, not_found_error

LOCK_NAME = ".fetch.lock"


def fetch(
    spec: DatasetSpec,
    dest: str | Path | None = None,
    *,
    mirrors: tuple[str, ...] | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Path:
    """Make sure `dest` (default: the cache) holds every file of `spec`; return the folder.
    A folder this call created is removed again when the download fails."""
    from filelock import FileLock

    dest = Path(dest) if dest else download_dir(spec)
    mirrors = spec.mirrors if mirrors is None else mirrors
    if not mirrors:
        raise not_found_error(spec, f"{spec.name} has no download mirror")
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(dest / LOCK_NAME)):
            present = find_in(dest, spec)
            for key, f in spec.files.items():
                if present[key] is None:
                    _fetch_one(spec, f, dest, mirrors, progress, timeout)
    except BaseException:
        if created:
            (dest / LOCK_NAME).unlink(missing_ok=True)
            try:
                dest.rmdir()  # only if nothing else came in meanwhile
            except OSError:
                pass
        raise
    return dest


def _fetch_one(spec, f: FileSpec, dest: Path, mirrors, progress: bool, timeout: float) -> None:
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.WARNING)
    staging = dest / f".{f.name}.unverified"
    errors = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + f.name
        staging.unlink(missing_ok=True)
        try:
            pooch.retrieve(
                url,
                known_hash=f"md5:{f.gz_md5}" if f.gz_md5 else None,
                fname=staging.name,
                path=dest,
                downloader=pooch.HTTPDownloader(progressbar=progress, timeout=timeout),
                progressbar=progress,
            )
        except (requests.RequestException, ValueError, OSError) as exc:
            # A dead mirror, an HTTP error or a wrong .gz hash: try the next mirror.
            errors.append(f"{url}: {_short(exc)}")
            continue
        try:
            check_payload(staging, f, display=dest / f.name)
        except DataError:
            staging.unlink(missing_ok=True)
            raise
        os.replace(staging, dest / f.name)
        return
    staging.unlink(missing_ok=True)
    raise not_found_error(spec, "; ".join(errors))


def check_payload(path: Path, f: FileSpec, display: Path | None = None):
    """Decode `path` and compare it with what `f` says; return the decoded data."""
    data = read_idx(path, ndim=1 if "labels" in f.name else 3)
    shown = display or path
    if f.sha256 and data.sha256 != f.sha256:
        raise DataError(
            shown,
            f"checksum mismatch: payload sha256 {data.sha256[:16]}..., expected {f.sha256[:16]}...",
            "the file is corrupt or not the official one: delete it and fetch it again "
            "(`softmaxreg data --fetch`), or use --dataset idx for other data",
        )
    size = data.array.nbytes + 4 + 4 * data.array.ndim
    if f.size and size != f.size:
        raise DataError(shown, f"decompressed size {size} bytes, expected {f.size}")
    return data


def _short(exc: BaseException) -> str:
    """What went wrong, in a few words: requests wraps urllib3's error, which wraps the
    socket's, and the innermost one says what happened (a name not resolved, a refusal)."""
    inner = exc
    while True:
        wrapped = next(
            (
                e
                for e in (getattr(inner, "reason", None), *getattr(inner, "args", ())[:1])
                if isinstance(e, BaseException)
            ),
            None,
        )
        if wrapped is None:
            break
        inner = wrapped
    text = str(inner).splitlines()[0] if str(inner) else type(inner).__name__
    if inner is not exc and "(" in text and text.startswith(("HTTPConnection", "<urllib3")):
        text = text.split(": ", 1)[-1]  # the connection's repr adds nothing to the reason
    return text[:160]
