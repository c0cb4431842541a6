"""evaluate and predict on a trained run; people's own images, good and bad."""

import json
import struct
import zlib

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

import softmaxreg
from softmaxreg.errors import ImageError
from softmaxreg.images import load_image


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


def bad_inputs(tmp_path):
    real = tmp_path / "real.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8)).save(real)
    (tmp_path / "truncated.png").write_bytes(real.read_bytes()[:400])
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    (tmp_path / "notes.txt").write_text("not an image")
    # A PNG header declaring 20000x20000 pixels with almost no data: refused from the header.
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk
    png += struct.pack(">I", zlib.crc32(chunk))
    (tmp_path / "huge.png").write_bytes(png + b"\0\0\0\0IEND\xaeB`\x82")
    (tmp_path / "empty").mkdir()
    return {
        "truncated.png": "corrupt or truncated image",
        "corrupt.png": "not an image Pillow can read",
        "notes.txt": "not an image Pillow can read",
        "huge.png": "over the limit",
        "empty": "no image files found",
        "missing.png": "no such file",
    }


def test_bad_images_get_one_line_and_exit_2(trained, tmp_path):
    for name, needle in bad_inputs(tmp_path).items():
        rc, out, err = run_cli("predict", "--model", trained, tmp_path / name)
        assert rc == 2, (name, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert name in err and needle in err, err


def test_model_argument_errors(tmp_path, trained):
    import torch

    torch.save({"w": torch.zeros(2)}, tmp_path / "m.pt")
    rc, _, err = run_cli("predict", "--model", tmp_path / "m.pt", trained)
    assert rc == 2 and "never unpickles" in err and len(err.strip().splitlines()) == 1
    rc, _, err = run_cli("predict", "--model", tmp_path, trained)
    assert rc == 2 and "not a softmaxreg run" in err


def test_load_image_rejects_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (3000, 3000)).save(path)
    with pytest.raises(ImageError, match="over the limit of 1000000"):
        load_image(path, max_pixels=1_000_000)
