import dataclasses

import numpy as np
import pytest

from helpers import make_images, write_dataset
from softmaxreg.data import load_dataset, write_idx
from softmaxreg.data.sources import DATASETS, FASHION_MNIST, IDX, locate
from softmaxreg.errors import ConfigError, DataError, DatasetNotFound


def test_idx_dataset_takes_classes_and_shape_from_files(tiny_dir):
    d = load_dataset("idx", tiny_dir)
    assert d.classes == ("stripe-a", "stripe-b", "stripe-c")
    assert d.train_images.shape == (120, 28, 28) and d.test_images.shape == (40, 28, 28)
    assert d.num_inputs == 784 and d.num_classes == 3
    assert {i.verified for i in d.files.values()} == {"structure"}


def test_idx_dataset_without_classes_txt_numbers_the_labels(tmp_path):
    folder = write_dataset(tmp_path / "d", classes=4, gz=False)
    d = load_dataset("idx", folder)
    assert d.classes == ("0", "1", "2", "3")


def test_other_image_sizes_follow_the_data(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    for prefix, n in (("train", 30), ("t10k", 10)):
        x, y = make_images(n, 2, shape=(12, 10))
        write_idx(folder / f"{prefix}-images-idx3-ubyte", x)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", y)
    d = load_dataset("idx", folder)
    assert d.image_shape == (12, 10) and d.num_inputs == 120


def test_label_beyond_classes_txt(tiny_dir):
    _, y = make_images(120, 3, seed=1)
    y[17] = 3
    write_idx(tiny_dir / "train-labels-idx1-ubyte.gz", y)
    with pytest.raises(DataError, match=r"label 3 \(first at index 17\).*classes.txt"):
        load_dataset("idx", tiny_dir)


def test_classes_txt_is_read_as_data_import_writes_and_reads_it(tmp_path):
    """UTF-8 with or without a byte-order mark (an editor's), each class once."""
    folder = write_dataset(tmp_path / "d", classes=3, gz=False)
    (folder / "classes.txt").write_text("\ufeffshoe\nbag\n\ncoat\n", encoding="utf-8")
    assert load_dataset("idx", folder).classes == ("shoe", "bag", "coat")
    (folder / "classes.txt").write_text("shoe\nbag\nshoe\n")
    with pytest.raises(DataError, match="classes.txt: lists the class 'shoe' twice"):
        load_dataset("idx", folder)


def test_count_mismatch(tiny_dir):
    _, y = make_images(100, 3, seed=1)
    write_idx(tiny_dir / "train-labels-idx1-ubyte.gz", y)
    with pytest.raises(DataError, match="100 labels but train-images-idx3-ubyte.gz has 120"):
        load_dataset("idx", tiny_dir)


def test_missing_file_in_explicit_dir(tiny_dir):
    (tiny_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing file"):
        load_dataset("idx", tiny_dir)


def test_official_name_with_wrong_files_fails_checksum(tmp_path):
    # Right layout and sizes are irrelevant: the payload sha256 decides.
    folder = write_dataset(tmp_path / "fake", n_train=60, n_test=10, classes=10)
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset("fashion-mnist", folder)


def test_unknown_dataset_and_idx_without_dir():
    with pytest.raises(ConfigError, match="unknown data set 'cifar'"):
        load_dataset("cifar")
    with pytest.raises(ConfigError, match="the idx data set needs data_dir"):
        load_dataset("idx")


def test_not_found_says_what_to_do(tmp_path, monkeypatch):
    nowhere = dataclasses.replace(FASHION_MNIST, system_dirs=(str(tmp_path / "none"),))
    monkeypatch.setitem(DATASETS, "fashion-mnist", nowhere)
    with pytest.raises(DatasetNotFound) as err:
        load_dataset("fashion-mnist", download=False)
    msg = str(err.value)
    assert "sudo apt-get install dataset-fashion-mnist" in msg
    assert "softmaxreg data --fetch" in msg and "SOFTMAXREG_DATA" in msg


def test_env_var_is_used(tiny_dir, monkeypatch):
    monkeypatch.setenv("SOFTMAXREG_DATA", str(tiny_dir))
    loc = locate(IDX)
    assert loc.folder == tiny_dir and loc.origin == "SOFTMAXREG_DATA"


def test_real_data_verified_then_remembered(real_data):
    d = real_data
    assert d.train_images.shape == (60000, 28, 28) and d.test_images.shape == (10000, 28, 28)
    assert d.classes[0] == "T-shirt/top" and d.classes[9] == "Ankle boot"
    again = load_dataset("fashion-mnist", download=False)
    assert {i.verified for i in again.files.values()} == {"sha256 (remembered)"}
    np.testing.assert_array_equal(again.train_labels, d.train_labels)
    np.testing.assert_array_equal(again.test_images[:100], d.test_images[:100])


def test_a_source_file_that_changes_after_verification_is_verified_again(real_data, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(real_data.location.folder, copy)
    first = load_dataset("fashion-mnist", copy)
    assert {i.verified for i in first.files.values()} <= {"sha256", "sha256 (remembered)"}
    again = load_dataset("fashion-mnist", copy)
    assert {i.verified for i in again.files.values()} == {"sha256 (remembered)"}
    # Replace one file with other (valid IDX) data: the cached arrays are not used for it.
    _, labels = make_images(10000, 10, seed=3)
    write_idx(copy / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: checksum mismatch"):
        load_dataset("fashion-mnist", copy)
