"""`softmaxreg serve` as users run it (issue 11, part 3): the command in a subprocess, called
with a real HTTP client; the page in headless Chromium driven by Playwright.

The model is trained on the real Fashion-MNIST, so that "the right class" means something;
the pictures are photos made from its test images, saved in several formats.
"""

import base64
import http.client
import io
import json
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

import softmaxreg
from helpers import Server, assert_clean_error, multipart, require_serve_extra, run_cli
from softmaxreg.data.pictures import load_image

require_serve_extra()  # skips this module where the extra is missing, fails under CI=true

from softmaxreg.serve.uploads import DRAIN_BYTES, MAX_UPLOAD_BYTES  # noqa: E402


@pytest.fixture(scope="module")
def run(real_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("serve") / "run"
    softmaxreg.train(out=str(out), epochs=3)
    return out


def photo(image: np.ndarray, kind: str) -> tuple[bytes, str]:
    """A Fashion-MNIST image (bright on black) as a photo of one kind: (bytes, content type)."""
    big = np.asarray(Image.fromarray(image).resize((160, 160), Image.Resampling.BICUBIC))
    canvas = np.full((220, 300), 255, np.uint8)
    canvas[30:190, 90:250] = 255 - big  # dark on white, off centre
    buf = io.BytesIO()
    if kind == "png":
        Image.fromarray(canvas).save(buf, "PNG")
    elif kind == "jpeg":  # tinted blue, in colour
        rgb = np.stack([canvas, canvas, np.full_like(canvas, 255)], axis=2)
        Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    elif kind == "rgba":  # a cut-out: transparent where there is no product
        rgba = np.zeros((220, 300, 4), np.uint8)
        rgba[30:190, 90:250, 3] = big
        Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    elif kind == "gif":
        Image.fromarray(canvas).convert("P").save(buf, "GIF")
    elif kind == "prepared":  # already the model's 28x28 input
        Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue(), {"jpeg": "image/jpeg", "gif": "image/gif"}.get(kind, "image/png")


SUFFIXES = {"png": ".png", "jpeg": ".jpg", "rgba": ".png", "gif": ".gif", "prepared": ".png"}
KINDS = tuple(SUFFIXES)


@pytest.fixture(scope="module")
def pictures(real_data, tmp_path_factory):
    """One picture per kind, each of another test image: name -> (path, content type)."""
    folder = tmp_path_factory.mktemp("pictures")
    found = {}
    for i, kind in enumerate(KINDS):
        data, content_type = photo(real_data.test_images[i], kind)
        path = folder / f"{i}-{kind}{SUFFIXES[kind]}"
        path.write_bytes(data)
        found[path.name] = (path, content_type)
    return found


@pytest.fixture(scope="module")
def cli_answers(run, pictures):
    """What `softmaxreg predict --json` prints for each picture, by file name (a batch of one
    picture at a time, as the server predicts)."""
    folder = next(iter(pictures.values()))[0].parent
    rc, out, err = run_cli("predict", "--json", "--batch-size", "1", "--model", run, folder)
    assert rc == 0, err
    answers = {Path(r["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert sorted(answers) == sorted(pictures)
    return answers


@pytest.fixture(scope="module")
def server(run):
    with Server(run) as s:
        yield s
    assert "Traceback" not in s.stderr(), s.stderr()


def post_raw(server, data: bytes, content_type: str | None, query: str = ""):
    headers = {"Content-Type": content_type} if content_type else {}
    return server.request("POST", "/predict" + query, data, headers)


def post_bare(server, data: bytes):
    """A POST with no Content-Type at all (urllib would add one)."""
    where = urlsplit(server.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=120)
    conn.request("POST", "/predict", data)
    response = conn.getresponse()
    answer = response.status, json.loads(response.read())
    conn.close()
    return answer


def post_form(server, fields, query: str = ""):
    body, content_type = multipart(fields)
    return server.request("POST", "/predict" + query, body, {"Content-Type": content_type})


def test_health_names_the_model_and_its_classes(server, run):
    health = server.health
    assert health["status"] == "ok"
    assert health["model"] == str(run / "model.safetensors")
    assert health["classes"][0] == "T-shirt/top" and len(health["classes"]) == 10
    assert health["image_shape"] == [28, 28]


@pytest.mark.parametrize("kind", KINDS)
def test_raw_and_multipart_bodies_answer_what_predict_json_prints(
    server, pictures, cli_answers, kind
):
    name = next(n for n in pictures if kind in n)
    path, content_type = pictures[name]
    expected = cli_answers[name]
    status, raw = post_raw(server, path.read_bytes(), content_type)
    assert status == 200, raw
    assert raw == {"path": "-", "top": expected["top"]}  # the same floats, to the last bit
    status, form = post_form(server, {"image": (name, path.read_bytes())})
    assert status == 200, form
    assert form == {"path": name, "top": expected["top"]}


def test_the_content_type_routes_but_pillow_reads_the_format(server, pictures, cli_answers):
    name = next(n for n in pictures if "jpeg" in n)
    status, answer = post_raw(server, pictures[name][0].read_bytes(), "image/png")
    assert status == 200 and answer["top"] == cli_answers[name]["top"]


@pytest.mark.parametrize("top_k, count", [(1, 1), (5, 5), (10, 10), (25, 10)])
def test_top_k(server, pictures, top_k, count):
    path, content_type = next(iter(pictures.values()))
    status, answer = post_raw(server, path.read_bytes(), content_type, f"?top_k={top_k}")
    assert status == 200
    top = answer["top"]
    assert len(top) == count
    probabilities = [t["probability"] for t in top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert len({t["index"] for t in top}) == count
    if count == 10:  # every class: the probabilities of a softmax sum to one
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-5)


def test_include_input_adds_what_the_model_saw(server, pictures, cli_answers):
    name = next(n for n in pictures if "rgba" in n)
    path, content_type = pictures[name]
    status, answer = post_raw(server, path.read_bytes(), content_type, "?include=input")
    assert status == 200
    assert answer["top"] == cli_answers[name]["top"]
    assert set(answer) == {"path", "top", "input"}
    prefix = "data:image/png;base64,"
    assert answer["input"].startswith(prefix)
    shown = Image.open(io.BytesIO(base64.b64decode(answer["input"][len(prefix) :])))
    assert shown.size == (28, 28) and shown.mode == "L"
    np.testing.assert_array_equal(np.asarray(shown), load_image(path))  # as predict prepares it


def _huge_png() -> bytes:
    """A valid PNG header declaring 20000x20000 pixels, with no pixel data."""
    import struct
    import zlib

    chunk = b"IHDR" + struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\0\0\0\0IEND\xaeB`\x82"
    )


def _png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _chunks(total: int, size: int = 1 << 20):
    """A body without a Content-Length: urllib sends it chunked."""
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        sent += n
        yield bytes(n)


# (case, how to send it, status, words the error must hold)
BAD_BODIES = [
    ("not an image", lambda s: post_raw(s, b"hello, world", "image/png"), 400, "not an image"),
    ("empty", lambda s: post_raw(s, b"", "image/png"), 400, "the body is empty"),
    (
        "truncated",
        lambda s: post_raw(s, _png_bytes()[:300], "image/png"),
        400,
        "corrupt or truncated image",
    ),
    (
        "over the size limit",
        lambda s: post_raw(s, bytes(MAX_UPLOAD_BYTES + 1), "image/png"),
        413,
        f"over the limit of {MAX_UPLOAD_BYTES} bytes",
    ),
    (
        "over the size limit, chunked",
        lambda s: post_raw(s, _chunks(MAX_UPLOAD_BYTES + 4096), "image/png"),
        413,
        f"over the limit of {MAX_UPLOAD_BYTES} bytes",
    ),
    ("20000x20000 pixels declared", lambda s: post_raw(s, _huge_png(), "image/png"), 413, "pixels"),
    (
        "text/plain",
        lambda s: post_raw(s, _png_bytes(), "text/plain"),
        415,
        "got Content-Type text/plain",
    ),
    ("no content type", lambda s: post_bare(s, _png_bytes()), 415, "no Content-Type"),
    (
        "form without the image field",
        lambda s: post_form(s, {"picture": ("a.png", _png_bytes())}),
        400,
        "no field 'image' (its fields: 'picture')",
    ),
    (
        "form with text as the image",
        lambda s: post_form(s, {"image": (None, b"a picture")}),
        400,
        "field 'image' is text",
    ),
    (
        "form with an empty file",
        lambda s: post_form(s, {"image": ("a.png", b"")}),
        400,
        "a.png: empty",
    ),
    (
        "form without a boundary",
        lambda s: s.request("POST", "/predict", b"x", {"Content-Type": "multipart/form-data"}),
        400,
        "malformed multipart form",
    ),
    (
        "top_k=0",
        lambda s: post_raw(s, _png_bytes(), "image/png", "?top_k=0"),
        422,
        "top_k must be a positive integer, got 0",
    ),
    (
        "top_k=many",
        lambda s: post_raw(s, _png_bytes(), "image/png", "?top_k=many"),
        422,
        "top_k must be a positive integer, got 'many'",
    ),
    (
        "include=weights",
        lambda s: post_raw(s, _png_bytes(), "image/png", "?include=weights"),
        422,
        "include: unknown value 'weights'",
    ),
    (
        "a misspelt query parameter",
        lambda s: post_raw(s, _png_bytes(), "image/png", "?topk=2"),
        422,
        "unknown query parameter 'topk'",
    ),
    ("GET /predict", lambda s: s.request("GET", "/predict"), 405, "POST /predict"),
    ("an unknown path", lambda s: s.request("GET", "/model.safetensors"), 404, "Not Found"),
]


@pytest.mark.parametrize(
    "send, status, needle", [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
def test_bad_request_gets_one_line_of_json_and_the_server_goes_on(
    server, pictures, cli_answers, send, status, needle
):
    got, answer = send(server)
    assert got == status, answer
    assert set(answer) == {"error"}
    assert needle in answer["error"] and "\n" not in answer["error"], answer
    name, (path, content_type) = next(iter(pictures.items()))
    after, good = post_raw(server, path.read_bytes(), content_type)
    assert after == 200 and good["top"] == cli_answers[name]["top"]


def test_a_body_declared_far_over_the_limit_is_refused_unread(server):
    """From its Content-Length alone: the client is answered before it sends the body."""
    where = urlsplit(server.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=120)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Type", "image/png")
    conn.putheader("Content-Length", str(DRAIN_BYTES + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    assert "over the limit" in json.loads(response.read())["error"]
    conn.close()


def test_eight_concurrent_clients_all_get_their_own_answers(server, pictures, cli_answers):
    names = sorted(pictures)
    start = threading.Barrier(8)
    failures: list[str] = []

    def client(number: int) -> None:
        start.wait()
        for round_ in range(6):
            name = names[(number + round_) % len(names)]
            path, content_type = pictures[name]
            if (number + round_) % 2:
                status, answer = post_raw(server, path.read_bytes(), content_type)
            else:
                status, answer = post_form(server, {"image": (name, path.read_bytes())})
            if status != 200 or answer["top"] != cli_answers[name]["top"]:
                failures.append(f"client {number}, {name}: {status} {answer}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_the_page_is_self_contained(server):
    status, page = server.request("GET", "/")
    assert status == 200 and page.startswith("<!doctype html>")
    assert str(server.health["model"]) in page and "Ankle boot" in page
    # Nothing from the network: no external src or href, no script or stylesheet files.
    assert "http://" not in page and "https://" not in page and "//cdn" not in page
    assert "<script src" not in page and '<link rel="stylesheet"' not in page
    where = urlsplit(server.url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=120)
    conn.request("GET", "/")
    policy = conn.getresponse().getheader("Content-Security-Policy")
    conn.close()
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy


def test_ctrl_c_stops_the_server_cleanly(run):
    with Server(run) as s:
        pass
    assert s.proc.returncode == 130  # an interrupt, as a shell reports one
    assert s.stderr().strip().splitlines()[-1:] == ["softmaxreg: interrupted"], s.stderr()


def test_serve_without_its_extra_says_how_to_install_it(run):
    code = (
        "import sys\n"
        "sys.modules['uvicorn'] = None  # as if it were not installed\n"
        "from softmaxreg.cli import main\n"
        f"raise SystemExit(main(['serve', {str(run)!r}, '--port', '0']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert_clean_error(
        proc.returncode,
        proc.stdout,
        proc.stderr,
        "needs uvicorn",
        "pip install 'softmaxreg[serve]'",
    )


# The page in a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def trouser(run, real_data, tmp_path_factory):
    """A photo of a trouser that the model, through predict's preparation, calls a trouser."""
    clf = softmaxreg.load(run)
    folder = tmp_path_factory.mktemp("trouser")
    candidates = np.flatnonzero(real_data.test_labels == 1)[:20]
    best, best_p = None, 0.0
    for i in candidates:
        path = folder / f"trouser-{i}.png"
        path.write_bytes(photo(real_data.test_images[i], "png")[0])
        p = clf.predict_proba(load_image(path))[0]
        if p.argmax() == 1 and p[1] > best_p:
            best, best_p = path, p[1]
    assert best is not None
    return best


def open_page(browser, server):
    """The page, and what it logged as errors and which URLs it requested."""
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    seen: dict[str, list[str]] = {"errors": [], "urls": []}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["urls"].append(r.url))
    page.goto(server.url + "/")
    return page, seen


def shown_input(page) -> np.ndarray:
    page.wait_for_function("document.getElementById('input').naturalWidth > 0")
    src = page.get_attribute("#input", "src")
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src[len(prefix) :]))))


def assert_only_this_server(seen, server):
    fetched = [u for u in seen["urls"] if not u.startswith(("data:", "blob:"))]
    assert fetched and all(u.startswith(server.url + "/") for u in fetched), seen["urls"]


@pytest.mark.slow
def test_page_upload_shows_the_class_and_the_input_the_model_saw(browser, server, trouser):
    page, seen = open_page(browser, server)
    page.set_input_files("#file", str(trouser))
    page.wait_for_selector("#top li")
    names = page.locator("#top li .name").all_inner_texts()
    assert names[0] == "Trouser" and len(names) == 5
    assert "Trouser" in page.inner_text("#status")
    np.testing.assert_array_equal(shown_input(page), load_image(trouser))
    size = page.evaluate(
        "(i => [i.naturalWidth, i.naturalHeight])(document.getElementById('input'))"
    )
    assert size == [28, 28]
    assert page.evaluate("document.getElementById('original').naturalWidth") == 300
    assert seen["errors"] == []
    assert_only_this_server(seen, server)
    page.close()


@pytest.mark.slow
def test_page_takes_a_dropped_picture_and_says_what_is_wrong_with_a_bad_one(
    browser, server, trouser
):
    page, seen = open_page(browser, server)
    drop = """async ([name, b64]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], name));
        document.getElementById('zone').dispatchEvent(
            new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
    }"""
    page.evaluate(drop, ["notes.txt", base64.b64encode(b"not a picture").decode()])
    page.wait_for_selector("#status.error")
    assert "notes.txt: not an image Pillow can read" in page.inner_text("#status")
    assert not page.is_visible("#result")
    page.evaluate(drop, [trouser.name, base64.b64encode(trouser.read_bytes()).decode()])
    page.wait_for_selector("#top li")
    assert page.locator("#top li .name").first.inner_text() == "Trouser"
    np.testing.assert_array_equal(shown_input(page), load_image(trouser))
    assert "error" not in (page.get_attribute("#status", "class") or "")
    assert_only_this_server(seen, server)
    page.close()
