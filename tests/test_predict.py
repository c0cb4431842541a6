"""evaluate and predict on a trained run; people's own images, good and bad."""

import json

import numpy as np
import pytest
from PIL import Image

import softmaxreg
from helpers import run_cli
from softmaxreg.data.pictures import load_image
from softmaxreg.errors import ImageError


@pytest.fixture(scope="module")
def trained(real_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "seed"
    softmaxreg.train(out=str(out), epochs=3)
    return out


def test_evaluate_prints_tables_json_and_pictures(trained, real_data):
    rc, out, err = run_cli("evaluate", trained)
    assert rc == 0, err
    assert "test accuracy 0.8" in out and "Ankle boot" in out and "most confident mistakes" in out
    for name in ("confusion.svg", "confusion.png", "weights.png", "predictions.png"):
        assert (trained / name).stat().st_size > 1000
    rc, out, err = run_cli("evaluate", trained, "--json", "--split", "train")
    report = json.loads(out)
    assert report["split"] == "train" and 0.8 < report["accuracy"] < 0.9
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 60000
    assert np.trace(confusion) / 60000 == pytest.approx(report["accuracy"])
    assert report["mistakes"][0]["probability"] >= report["mistakes"][-1]["probability"]


def save(img: Image.Image, path):
    img.save(path)
    return path


def test_predict_real_test_images_as_pngs_in_many_modes(trained, real_data, tmp_path):
    clf = softmaxreg.load(trained)
    pics = real_data.test_images[:8]
    folder = tmp_path / "pics"
    folder.mkdir()
    for i, x in enumerate(pics):
        dark_on_light = 255 - x  # a photo-like bright background, inverted back by auto
        save(Image.fromarray(dark_on_light).resize((84, 84)), folder / f"{i}-gray.png")
    rgba = np.dstack([np.repeat(pics[0][..., None], 3, axis=2), np.full((28, 28), 255, np.uint8)])
    save(Image.fromarray(rgba, "RGBA"), folder / "rgba.png")
    save(Image.fromarray(pics[1]).convert("P"), folder / "palette.png")
    Image.fromarray(pics[2].astype(np.uint16) * 257).save(folder / "sixteen.png")
    rc, out, err = run_cli("predict", "--model", trained, folder, "--json", "--top-k", "2")
    assert rc == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 11 and all(len(r["top"]) == 2 for r in records)
    by_name = {r["path"].rsplit("/", 1)[1]: r["top"][0]["index"] for r in records}
    expected = clf.predict(pics)
    agree = sum(by_name[f"{i}-gray.png"] == expected[i] for i in range(8))
    assert agree >= 6  # resampled 3x and back: nearly always the same class
    assert by_name["rgba.png"] == expected[0]
    assert by_name["palette.png"] == expected[1]
    assert by_name["sixteen.png"] == expected[2]
    np.testing.assert_array_equal(load_image(folder / "sixteen.png"), pics[2])


def test_predict_idx_file_and_plain_output(trained, real_data, tmp_path):
    from softmaxreg.data import write_idx

    path = write_idx(tmp_path / "mine-idx3-ubyte", real_data.test_images[:5])
    rc, out, err = run_cli("predict", "--model", trained / "model.safetensors", path)
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 5 and lines[0].startswith(f"{path}#0: ")
    clf = softmaxreg.load(trained)
    assert lines[0].split(": ")[1].startswith(clf.predict_labels(real_data.test_images[:1])[0])


def test_load_image_rejects_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(path)
    with pytest.raises(ImageError, match="over the limit of 1000000"):
        load_image(path, max_pixels=1_000_000)


# -- order, batching and arguments, on a small made-up model -------------------------------


@pytest.fixture
def small_clf():
    from softmaxreg.inference import Classifier
    from softmaxreg.records import LinearWeights

    rng = np.random.default_rng(3)
    return Classifier(
        LinearWeights(
            rng.normal(0, 0.01, (3, 784)).astype(np.float32),
            np.zeros(3, np.float32),
            ("a", "b", "c"),
            (28, 28),
        )
    )


def _picture(path):
    Image.fromarray(
        np.random.default_rng(len(str(path))).integers(0, 256, (40, 30), np.uint8)
    ).save(path)
    return path


def test_records_follow_the_given_order_when_pictures_and_idx_files_mix(small_clf, tmp_path):
    from softmaxreg.data import write_idx
    from softmaxreg.inference.predict import predict_paths

    first, last = _picture(tmp_path / "a.png"), _picture(tmp_path / "z.png")
    raw = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    packed = write_idx(tmp_path / "y-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    paths = [first, raw, last, packed]
    names = [r["path"] for r in predict_paths(small_clf, paths, batch_size=2)]
    assert names == [str(first), *(f"{raw}#{i}" for i in range(3)), str(last)] + [
        f"{packed}#{i}" for i in range(2)
    ]


def test_the_progress_bar_counts_idx_images_and_raw_idx_files_are_mapped(
    small_clf, tmp_path, monkeypatch
):
    import tqdm.auto

    from softmaxreg.data import write_idx
    from softmaxreg.inference import predict

    bars = []

    class Bar:
        def __init__(self, total, **kwargs):
            self.total, self.done = total, 0
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    decoded = []
    monkeypatch.setattr(predict, "read_idx", lambda *a, **k: decoded.append(a) or None)
    raw = write_idx(tmp_path / "x-idx3-ubyte", np.zeros((7, 28, 28), np.uint8))
    records = list(
        predict.predict_paths(
            small_clf, [_picture(tmp_path / "a.png"), raw], batch_size=2, progress=True
        )
    )
    assert len(records) == 8 and bars[0].total == 8 and bars[0].done == 8
    assert decoded == []  # memory-mapped, not decoded whole


def test_prediction_arguments_are_checked_once_by_the_library(small_clf, tmp_path):
    from softmaxreg.errors import ConfigError
    from softmaxreg.inference.predict import predict_paths, predict_picture

    picture = _picture(tmp_path / "a.png")
    with pytest.raises(ConfigError, match="^batch_size must be a positive integer, got 0$") as e:
        predict_paths(small_clf, [picture], batch_size=0)  # at the call, before any record
    assert e.value.param == "batch_size"
    with pytest.raises(ConfigError, match="^top_k must be a positive integer, got 0$"):
        predict_paths(small_clf, [picture], top_k=0)
    with pytest.raises(ConfigError, match="^top_k must be a positive integer"):
        predict_picture(small_clf, np.zeros((28, 28)), "x", top_k=-1)


def test_a_folder_lists_pictures_in_imagefolder_order_without_hidden_files(small_clf, tmp_path):
    from softmaxreg.inference.predict import predict_paths

    folder = tmp_path / "pics"
    (folder / "a").mkdir(parents=True)
    (folder / ".thumbnails").mkdir()
    _picture(folder / "b.png")
    _picture(folder / "a" / "c.png")
    (folder / "._b.png").write_bytes(b"\0\5\26\7 macOS resource fork")  # not a picture
    _picture(folder / ".thumbnails" / "b.png")
    names = [r["path"] for r in predict_paths(small_clf, [folder])]
    # ImageFolder's order: a folder's own pictures, then its subfolders'.
    assert names == [str(folder / "b.png"), str(folder / "a" / "c.png")]
