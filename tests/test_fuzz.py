"""Property tests: whatever bytes an IDX file or an image holds, the readers return a valid
array or raise the project's typed errors (DataError, ImageError), nothing else. `make fuzz`
runs 10,000 cases per property (FUZZ_EXAMPLES); `make test` a smaller share."""

import gzip
import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from softmaxreg.data.idx import encode_idx, read_idx
from softmaxreg.data.pictures import load_image, prepare
from softmaxreg.errors import DataError, ImageError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None)
SCRATCH = Path(tempfile.mkdtemp(prefix="softmaxreg-fuzz-"))
VALID = encode_idx(np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5))


def check(path, ndim):
    try:
        data = read_idx(path, ndim=ndim)
    except DataError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    assert data.array.dtype == np.uint8
    assert ndim is None or data.array.ndim == ndim


@FUZZ
@given(blob=st.binary(max_size=300), compress=st.booleans(), ndim=st.sampled_from([None, 1, 3]))
def test_random_bytes(blob, compress, ndim):
    path = SCRATCH / ("random.gz" if compress else "random")
    path.write_bytes(gzip.compress(blob) if compress else blob)
    check(path, ndim)


@FUZZ
@given(
    edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, len(VALID)),
    compress=st.booleans(),
    gz_damage=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=3),
)
def test_mutations_of_a_valid_file(edits, cut, compress, gz_damage):
    raw = bytearray(VALID)
    for at, value in edits:
        raw[at] = value
    raw = bytes(raw[:cut])
    blob = bytearray(gzip.compress(raw)) if compress else bytearray(raw)
    if compress:
        for at, value in gz_damage:
            if at < len(blob):
                blob[at] = value
    path = SCRATCH / ("mutated.gz" if compress else "mutated")
    path.write_bytes(bytes(blob))
    check(path, 3)


@FUZZ
@given(
    blob=st.binary(max_size=400),
    prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff", b"BM"]),
)
def test_image_loader_on_random_bytes(blob, prefix):
    path = SCRATCH / "image.bin"
    path.write_bytes(prefix + blob)
    try:
        out = load_image(path)
    except ImageError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    assert out.shape == (28, 28) and out.dtype == np.uint8


@FUZZ
@given(
    h=st.integers(1, 60),
    w=st.integers(1, 60),
    channels=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**16),
    invert=st.sampled_from(["auto", "yes", "no"]),
    crop=st.booleans(),
    blank=st.booleans(),
)
def test_prepare_any_picture_gives_28x28_uint8(h, w, channels, seed, invert, crop, blank):
    rng = np.random.default_rng(seed)
    picture = rng.uniform(0, 255, (h, w, channels)).astype(np.float32)
    if blank:  # one colour: no object to trim to
        picture[:] = picture[0, 0]
    out = prepare(picture if channels == 3 else picture[..., 0], (28, 28), invert, crop)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    if blank and invert == "auto" and (h, w) != (28, 28):  # 28x28 is taken as prepared
        assert out.max() == 0
