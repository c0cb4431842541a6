import gzip
import hashlib
import struct

import numpy as np
import pytest

from softmaxreg.data.idx import encode_idx, read_idx, write_idx
from softmaxreg.errors import DataError


def test_round_trip_gzip_and_raw(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for name in ("a-idx3-ubyte.gz", "a-idx3-ubyte"):
        path = write_idx(tmp_path / name, arr)
        data = read_idx(path, ndim=3)
        assert data.array.dtype == np.uint8
        np.testing.assert_array_equal(data.array, arr)
        assert data.sha256 == hashlib.sha256(encode_idx(arr)).hexdigest()
    assert (tmp_path / "a-idx3-ubyte.gz").read_bytes()[:2] == b"\x1f\x8b"


def header(type_byte=0x08, dims=(2, 3, 4), magic=b"\0\0"):
    return magic + bytes([type_byte, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize(
    "content, ndim, defect",
    [
        (header() + bytes(23), 3, "truncated payload"),
        (header() + bytes(25), 3, "trailing bytes"),
        (b"\x01\x02" + header()[2:] + bytes(24), 3, "bad magic"),
        (header(type_byte=0x0D) + bytes(24 * 4), 3, "type byte 0x0d"),
        (header(dims=(24,)) + bytes(24), 3, "has 1 dimensions, expected 3"),
        (header(dims=(2, 3, 4)) + bytes(24), 1, "has 3 dimensions, expected 1"),
        (b"", 3, "empty file"),
        (b"\0\0", 3, "truncated header"),
        (header(dims=(2**31, 28, 28)) + bytes(100), 3, "over the limit"),
    ],
)
def test_malformed_raw_files_name_the_file_and_defect(tmp_path, content, ndim, defect):
    path = tmp_path / "bad-idx-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_idx(path, ndim=ndim)
    assert str(path) in str(err.value)
    assert defect in str(err.value)
    assert "\n" not in str(err.value)


def test_gz_name_that_is_not_gzip(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(header(dims=(3,)) + bytes(3))
    with pytest.raises(DataError, match="not gzip-compressed"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path):
    path = tmp_path / "x-idx3-ubyte.gz"
    blob = gzip.compress(header(dims=(100, 28, 28)) + bytes(100 * 784))
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="corrupt gzip|truncated"):
        read_idx(path, ndim=3)


def test_huge_declared_dims_refused_before_allocating(tmp_path):
    # 2^31 images of 28x28 declared in a tiny gzip file: refused from the header alone.
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header(dims=(2**31, 28, 28)) + bytes(10)))
    with pytest.raises(DataError, match="over the limit"):
        read_idx(path, ndim=3)
    path.write_bytes(gzip.compress(header(dims=(20000, 28, 28)) + bytes(10)))
    with pytest.raises(DataError, match="cannot hold that many"):
        read_idx(path, ndim=3)


def test_gzip_bomb_is_bounded_by_the_header(tmp_path):
    # Declares 10 bytes but decompresses to 50 MB: reading stops after 11 bytes.
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(header(dims=(10,)) + bytes(50_000_000)))
    with pytest.raises(DataError, match="trailing bytes"):
        read_idx(path, ndim=1)


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_idx(tmp_path)
    with pytest.raises(DataError, match="file not found"):
        read_idx(tmp_path / "nope")


def test_encode_idx_refuses_a_dimension_beyond_32_bits():
    # An empty array may declare any dimension; the header can hold only 32-bit ones.
    with pytest.raises(ValueError, match="IDX dimensions must fit in 32 bits"):
        encode_idx(np.zeros((2**32, 0), dtype=np.uint8))
