"""Atomic writes, and the background writer that lands each epoch's files while training goes on."""

import os

import pytest

from softmaxreg.fileio import BackgroundWriter, atomic_write_bytes


def test_atomic_write_replaces_whole_files_and_leaves_no_temporaries(tmp_path):
    target = tmp_path / "sub" / "file.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["file.bin"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_background_writer_lands_writes_in_order(tmp_path):
    writer = BackgroundWriter()
    for i in range(50):  # the same file rewritten: the last submission must win
        writer.submit(tmp_path / "checkpoint", f"epoch {i}".encode())
        writer.submit(tmp_path / f"metrics-{i % 3}", str(i).encode())
    writer.wait()
    assert (tmp_path / "checkpoint").read_bytes() == b"epoch 49"
    assert [(tmp_path / f"metrics-{k}").read_text() for k in range(3)] == ["48", "49", "47"]
    writer.close()
    assert not writer._thread.is_alive()
    with pytest.raises(RuntimeError, match="after close"):
        writer.submit(tmp_path / "late", b"x")


def test_background_writer_reports_a_failure_and_writes_nothing_after_it(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    writer = BackgroundWriter()
    writer.submit(tmp_path / "before", b"1")
    writer.submit(blocker / "checkpoint", b"2")  # cannot be written
    writer.submit(tmp_path / "after", b"3")
    with pytest.raises(OSError):
        writer.wait()
    assert (tmp_path / "before").read_bytes() == b"1"
    assert not (tmp_path / "after").exists()  # files never run ahead of a failed one
    with pytest.raises(OSError):
        writer.submit(tmp_path / "later", b"4")
    writer.close(quiet=True)  # another error is on its way: keep this one to itself
    with pytest.raises(OSError):
        writer.close()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_writes_never_touch_the_process_umask(tmp_path, monkeypatch):
    """The umask is process-wide: setting it even for a moment (from the background writer's
    thread) gives files that any other thread creates meanwhile the wrong permissions. An
    atomic write must give its file the mode a plain open() would, without changing it."""
    calls = []
    real_umask = os.umask

    def spy(mask):
        calls.append(mask)
        return real_umask(mask)

    monkeypatch.setattr(os, "umask", spy)
    previous = real_umask(0o027)
    try:
        target = atomic_write_bytes(tmp_path / "file.bin", b"data")
        writer = BackgroundWriter()
        writer.submit(tmp_path / "later.bin", b"more")
        writer.close()
    finally:
        real_umask(previous)
    assert calls == []
    assert target.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "later.bin").stat().st_mode & 0o777 == 0o640
