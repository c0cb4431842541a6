"""The download path, against an HTTP server on 127.0.0.1 serving generated IDX files."""

import dataclasses
import gzip
import hashlib
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import write_dataset
from softmaxreg.data import load_dataset
from softmaxreg.data.download import fetch
from softmaxreg.data.sources import DATASETS, IDX, FileSpec, get_spec, locate
from softmaxreg.errors import DataError, DatasetNotFound


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/good and tmp_path/bad; tmp_path/missing is a 404 mirror."""
    root = tmp_path / "www"
    good = write_dataset(root / "good", n_train=50, n_test=20, classes=3)
    bad = root / "bad"
    bad.mkdir()
    for f in good.iterdir():  # same files, each with one flipped byte in the payload
        raw = bytearray(gzip.decompress(f.read_bytes()))
        raw[-1] ^= 0xFF
        (bad / f.name).write_bytes(gzip.compress(bytes(raw)))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", good
    httpd.shutdown()
    httpd.server_close()


def spec_for(good):
    files = {}
    for key, f in IDX.files.items():
        payload = gzip.decompress((good / f.name).read_bytes())
        files[key] = FileSpec(f.name, hashlib.sha256(payload).hexdigest(), len(payload))
    return dataclasses.replace(IDX, name="toy", classes=("a", "b", "c"), files=files)


def test_good_files_are_fetched_and_load(server, tmp_path):
    base, good = server
    spec = spec_for(good)
    dest = fetch(spec, tmp_path / "dl", mirrors=(f"{base}/good/",), progress=False)
    names = sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))
    assert names == sorted(f.name for f in spec.files.values())
    assert not [p for p in dest.iterdir() if p.name.endswith(".unverified")]
    assert load_dataset("idx", dest).train_images.shape == (50, 28, 28)


def test_corrupt_file_is_rejected_and_nothing_is_left(server, tmp_path):
    base, good = server
    dest = tmp_path / "dl"
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(spec_for(good), dest, mirrors=(f"{base}/bad/",), progress=False)
    assert not dest.exists()  # the fetch made the folder, and removed it again


def test_a_failed_fetch_into_a_folder_of_ones_own_keeps_the_folder(server, tmp_path):
    base, good = server
    dest = tmp_path / "mine"
    (dest / "notes.txt").parent.mkdir()
    (dest / "notes.txt").write_text("kept")
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch(spec_for(good), dest, mirrors=(f"{base}/bad/",), progress=False)
    assert sorted(p.name for p in dest.iterdir() if p.name != ".fetch.lock") == ["notes.txt"]


def test_error_status_on_first_mirror_uses_the_next(server, tmp_path):
    base, good = server
    dest = fetch(
        spec_for(good),
        tmp_path / "dl",
        mirrors=(f"{base}/missing/", f"{base}/good/"),
        progress=False,
    )
    assert (dest / "train-images-idx3-ubyte.gz").exists()


def test_all_mirrors_failing_says_what_to_do(server, tmp_path):
    base, good = server
    with pytest.raises(DatasetNotFound, match="404"):
        fetch(spec_for(good), tmp_path / "dl", mirrors=(f"{base}/missing/",), progress=False)


def test_concurrent_fetches_end_with_one_verified_copy(server, tmp_path):
    base, good = server
    spec, dest = spec_for(good), tmp_path / "dl"
    with ThreadPoolExecutor(4) as pool:
        done = list(
            pool.map(
                lambda _: fetch(spec, dest, mirrors=(f"{base}/good/",), progress=False), range(4)
            )
        )
    assert set(done) == {dest}
    for f in spec.files.values():
        payload = gzip.decompress((dest / f.name).read_bytes())
        assert hashlib.sha256(payload).hexdigest() == f.sha256
    assert not [p for p in dest.iterdir() if p.name.endswith((".unverified", ".tmp"))]


def test_a_mirror_that_refuses_says_so_briefly_and_leaves_no_folder(server, tmp_path):
    """The innermost reason (the socket's), not requests' wrappers; and the cache folder this
    fetch created, holding only its lock, is gone again."""
    _, good = server
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    with pytest.raises(DatasetNotFound) as caught:
        fetch(spec_for(good), tmp_path / "dl", mirrors=(dead,), progress=False)
    assert "Connection refused" in str(caught.value)
    assert "HTTPConnectionPool" not in str(caught.value)
    assert not (tmp_path / "dl").exists()


def test_data_fetch_downloads_nothing_the_system_copy_holds(
    real_data, tmp_path, monkeypatch, capsys
):
    """`softmaxreg data --fetch` with the data set in the system's folder (Debian's package)
    and an empty cache: nothing to download (the mirror here is dead), nothing written."""
    from softmaxreg.cli import main

    spec = get_spec("fashion-mnist")
    found = locate(spec)
    system = tmp_path / "system"
    system.mkdir()
    for path in found.paths.values():
        (system / path.name).symlink_to(path)
    monkeypatch.setitem(
        DATASETS,
        "fashion-mnist",
        dataclasses.replace(spec, system_dirs=(str(system),), mirrors=("http://127.0.0.1:9/",)),
    )
    monkeypatch.setenv("SOFTMAXREG_CACHE", str(tmp_path / "cache"))
    assert main(["data", "--fetch"]) == 0
    assert str(system) in capsys.readouterr().out
    assert not (tmp_path / "cache" / "datasets" / "fashion-mnist").exists()
