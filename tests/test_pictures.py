"""Pictures prepared the way Fashion-MNIST was made (issue 11, part 1).

The goal is measured on product photos generated here from real Fashion-MNIST test images, in
the three kinds a shop or a phone produces: a dark product on white, the product tinted in a
colour and placed off centre on a wider canvas, and a light grey noisy backdrop saved as JPEG.
Prepared as the data set was made, each kind must be recognised about as well as the test set.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import softmaxreg
from helpers import run_cli
from softmaxreg.data import write_idx
from softmaxreg.data.pictures import estimate_backdrop, load_image, object_box, prepare
from softmaxreg.errors import SoftmaxRegError
from softmaxreg.inference.predict import predict_paths
from softmaxreg.views.sheet import CELL, GAP, InputSheet

PHOTOS_PER_KIND = 300
TINTS = [
    (200, 30, 30),
    (30, 60, 200),
    (20, 140, 40),
    (230, 200, 40),
    (150, 40, 160),
    (240, 120, 20),
    (0, 160, 170),
]


@pytest.fixture(scope="module")
def seed_run(real_data, tmp_path_factory):
    """The seed chapter's run (10 epochs, about 0.83 on the test set)."""
    out = tmp_path_factory.mktemp("run") / "seed"
    softmaxreg.train(out=str(out), epochs=10)
    return out


@pytest.fixture(scope="module")
def seed_model(seed_run):
    return softmaxreg.load(seed_run)


@pytest.fixture(scope="module")
def sample(real_data):
    """A fixed random sample of the test set: its images and labels."""
    pick = np.random.default_rng(11).choice(len(real_data.test_labels), PHOTOS_PER_KIND, False)
    return real_data.test_images[pick], real_data.test_labels[pick]


# The three kinds of photo. Each takes a Fashion-MNIST image (bright product on black) and a
# random generator, and gives a Pillow image and the format to save it in.


def product_alpha(image: np.ndarray, side: int) -> np.ndarray:
    """How much product covers each pixel (0..1) at `side` x `side`, upscaled smoothly."""
    big = Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32) / 255


def dark_on_white(image, rng):
    """A dark product on a white 200x200 picture, with a margin around it."""
    side = int(rng.integers(120, 181))
    canvas = np.ones((200, 200), np.float32)
    at = (200 - side) // 2
    canvas[at : at + side, at : at + side] = 1 - product_alpha(image, side)
    return Image.fromarray(np.uint8(np.rint(canvas * 255)), "L"), "png"


def tinted_off_centre(image, rng):
    """The product in a colour, anywhere on a white 300x200 canvas."""
    side = int(rng.integers(100, 171))
    tint = np.array(TINTS[rng.integers(len(TINTS))], np.float32) / 255
    canvas = np.ones((200, 300, 3), np.float32)
    top, left = int(rng.integers(0, 200 - side + 1)), int(rng.integers(0, 300 - side + 1))
    alpha = product_alpha(image, side)[..., None]
    canvas[top : top + side, left : left + side] = 1 - alpha * (1 - tint)
    return Image.fromarray(np.uint8(np.rint(canvas * 255)), "RGB"), "png"


def grey_noisy(image, rng):
    """The product on a light grey backdrop (170..220) with sensor noise, as a JPEG."""
    side = int(rng.integers(120, 181))
    canvas = np.ones((200, 200), np.float32)
    top, left = int(rng.integers(0, 200 - side + 1)), int(rng.integers(0, 200 - side + 1))
    canvas[top : top + side, left : left + side] = 1 - product_alpha(image, side)
    photo = canvas * rng.uniform(170, 220) + rng.normal(0, 8, canvas.shape)
    return Image.fromarray(np.uint8(np.clip(np.rint(photo), 0, 255)), "L"), "jpg"


KINDS = {
    "dark-on-white": dark_on_white,
    "tinted-off-centre": tinted_off_centre,
    "grey-noisy": grey_noisy,
}


@pytest.fixture(scope="module")
def photos(sample, tmp_path_factory):
    """Folders of generated photos, one per kind, file i showing sample image i."""
    images, _ = sample
    folders = {}
    for kind, make in KINDS.items():
        folder = tmp_path_factory.mktemp(kind)
        rng = np.random.default_rng(7)
        for i, image in enumerate(images):
            photo, fmt = make(image, rng)
            photo.save(folder / f"{i:03d}.{fmt}", quality=75)  # quality: JPEG only
        folders[kind] = folder
    return folders


def top1(clf, folder, labels, crop=True) -> float:
    records = predict_paths(clf, [folder], top_k=1, crop=crop)
    predicted = {int(Path(r["path"]).stem): r["top"][0]["index"] for r in records}
    return float(np.mean([predicted[i] == label for i, label in enumerate(labels)]))


def test_photos_are_recognised_about_as_well_as_the_test_set(seed_model, sample, photos):
    images, labels = sample
    originals = seed_model.score(images, labels)
    measured = {kind: top1(seed_model, folder, labels) for kind, folder in photos.items()}
    whole = {kind: top1(seed_model, folder, labels, crop=False) for kind, folder in photos.items()}
    # Measured here (seed model: 0.833 on the test set, 0.850 on these 300 originals):
    # 0.863, 0.867 and 0.863 prepared as the data set was made; 0.557, 0.147 and 0.383 with
    # the whole picture fitted (--no-crop); 0.557, 0.130 and 0.243 before this preparation.
    for kind, accuracy in measured.items():
        assert accuracy >= 0.80, (kind, measured, whole)
        assert accuracy >= originals - 0.04, (kind, measured, originals)
    assert whole["tinted-off-centre"] < 0.5, whole  # what trimming to the product gains


def backdrop_with_object(backdrop, colour, box, shape=(120, 160), noise=3.0, seed=0):
    """A plain backdrop with grain and a rectangle of another colour at box (t, b, l, r)."""
    rng = np.random.default_rng(seed)
    picture = np.empty((*shape, 3), np.float32)
    picture[:] = backdrop
    top, bottom, left, right = box
    picture[top:bottom, left:right] = colour
    if noise:
        picture = np.clip(picture + rng.normal(0, noise, picture.shape), 0, 255)
    return picture


def lit_box(image: np.ndarray, threshold=64) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pixels brighter than `threshold`."""
    lit = image > threshold
    rows, cols = np.flatnonzero(lit.any(axis=1)), np.flatnonzero(lit.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


@pytest.mark.parametrize("light_falloff", [0, 50])
def test_tinted_object_on_coloured_backdrop_is_cropped_to_its_box(light_falloff):
    # Pink on light blue: at most 80 apart (in blue), nearly the same luminance.
    picture = backdrop_with_object((200, 220, 240), (215, 160, 170), (30, 90, 50, 80))
    # Uneven light: the whole scene darker towards the bottom right, by up to light_falloff.
    rows, cols = np.indices(picture.shape[:2])
    picture -= (light_falloff * (rows / 120 + cols / 160) / 2)[..., None]
    backdrop = estimate_backdrop(picture)
    assert backdrop.tolerance < 20  # the falloff is fitted, not taken for noise
    box = object_box(picture, backdrop.render(picture.shape[:2]), backdrop.tolerance)
    assert box == (30, 90, 50, 80)
    out = prepare(picture)
    # 60x30 fitted to 28 rows: 14 columns, in the middle, bright on dark.
    assert lit_box(out) == (0, 28, 7, 21)
    assert out[5:23, 9:19].min() > 60 and out[:, :6].max() < 20


def test_colour_counts_where_luminance_hardly_differs():
    # Yellow on white: 35 apart in luminance, but 215 apart in the blue channel.
    picture = backdrop_with_object((255, 255, 255), (240, 225, 40), (20, 100, 40, 120))
    out = prepare(picture)
    assert out[4:24, 4:24].mean() > 200 and lit_box(out) == (0, 28, 0, 28)


@pytest.mark.parametrize("noise", [0.0, 8.0])
def test_uniform_picture_gives_a_dark_input(tmp_path, noise):
    picture = backdrop_with_object((120, 130, 140), (120, 130, 140), (0, 0, 0, 0), noise=noise)
    Image.fromarray(np.uint8(np.rint(picture))).save(tmp_path / "blank.jpg", quality=80)
    for out in (prepare(picture), load_image(tmp_path / "blank.jpg")):
        assert out.shape == (28, 28) and out.dtype == np.uint8
        assert out.mean() < 5  # no object: nothing lit up, and no crash


def fit_whole_picture_as_before(gray: np.ndarray) -> np.ndarray:
    """The preparation before this change, for a dark object on white: negate, fit the whole
    picture (Lanczos), centre on black."""
    h, w = gray.shape
    scale = min(28 / h, 28 / w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = Image.fromarray(255 - gray.astype(np.float32), "F").resize(
        size, Image.Resampling.LANCZOS
    )
    out = np.zeros((28, 28), np.uint8)
    top, left = (28 - size[1] + 1) // 2, (28 - size[0] + 1) // 2
    out[top : top + size[1], left : left + size[0]] = np.clip(np.rint(np.asarray(small)), 0, 255)
    return out


def test_no_crop_fits_the_whole_picture_as_before(tmp_path):
    gray = np.full((200, 300), 255, np.uint8)
    gray[20:80, 30:70] = 40  # a small dark object in the top left corner
    Image.fromarray(gray).save(tmp_path / "corner.png")
    whole = load_image(tmp_path / "corner.png", crop=False)
    np.testing.assert_allclose(whole, fit_whole_picture_as_before(gray), atol=1)
    assert lit_box(whole) == (7, 13, 3, 7)  # stays small, in its corner
    assert lit_box(load_image(tmp_path / "corner.png")) == (0, 28, 5, 24)  # cropped: fills it


def test_fashion_mnist_images_come_through_unchanged(real_data, tmp_path):
    images = real_data.test_images
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], 1)
    touching = np.flatnonzero(np.median(border, axis=1) > 0)  # objects covering the border
    assert len(touching) > 5
    for i in [*range(60), *touching]:
        Image.fromarray(images[i]).save(tmp_path / "x.png")
        np.testing.assert_array_equal(load_image(tmp_path / "x.png"), images[i], err_msg=str(i))
        Image.fromarray(255 - images[i]).save(tmp_path / "negated.png")
        np.testing.assert_array_equal(load_image(tmp_path / "negated.png"), images[i])


def test_a_phone_sized_jpeg_is_prepared_like_a_small_one(tmp_path):
    picture = backdrop_with_object(
        (235, 235, 230), (60, 40, 30), (600, 2400, 1400, 2600), shape=(3000, 4000), noise=0
    )
    Image.fromarray(np.uint8(picture)).save(tmp_path / "phone.jpg", quality=90)
    small = picture[::10, ::10]
    Image.fromarray(np.uint8(small)).save(tmp_path / "small.png")
    big, little = load_image(tmp_path / "phone.jpg"), load_image(tmp_path / "small.png")
    assert np.abs(big.astype(int) - little).mean() < 3 and lit_box(big) == lit_box(little)


def test_show_writes_one_row_per_picture_and_no_crop_fits_whole(
    seed_run, seed_model, photos, tmp_path
):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for kind, source in photos.items():
        first = sorted(source.iterdir())[0]
        (folder / f"{kind}{first.suffix}").write_bytes(first.read_bytes())
    idx = write_idx(tmp_path / "few-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    sheet = tmp_path / "out" / "sheet.png"
    args = ("--show", sheet, "--no-crop", "--json", "--top-k", "1")
    rc, out, err = run_cli("predict", "--model", seed_run, folder, idx, *args)
    assert rc == 0, err
    assert len(out.splitlines()) == 5 and "sheet of what the model saw" in err
    with Image.open(sheet) as img:
        assert img.format == "PNG" and img.height == 3 * (CELL + GAP) + GAP  # IDX not drawn
        img.load()
    assert [p.name for p in sheet.parent.iterdir()] == ["sheet.png"]  # no temporary left
    expected = list(predict_paths(seed_model, [folder], top_k=1, crop=False))
    pictures = [r for r in map(json.loads, out.splitlines()) if "#" not in r["path"]]
    assert pictures == expected


def test_show_refuses_a_name_that_is_not_png(seed_run, photos):
    rc, out, err = run_cli("predict", "--model", seed_run, photos["grey-noisy"], "--show", "s.jpg")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--show: expected a file name ending in .png" in err


def test_sheet_keeps_its_first_rows_and_says_when_it_cannot_be_written(tmp_path):
    sheet = InputSheet(max_rows=2)
    picture = np.full((40, 30, 3), 255, np.float32)
    record = {"path": "a/b.png", "top": [{"class": "Bag", "index": 8, "probability": 0.5}]}
    for _ in range(3):
        sheet.add(sheet.thumbnail_for(picture), np.zeros((28, 28), np.uint8), record)
    assert len(sheet.rows) == 2 and sheet.left_out == 1
    assert sheet.render().size[1] == 2 * (CELL + GAP) + GAP
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SoftmaxRegError, match="cannot write") as caught:
        sheet.save(tmp_path / "a-file" / "sheet.png")
    assert "\n" not in str(caught.value)
    # The library names its parameter; `predict --show` names the flag (tests/bad_inputs.py).
    assert str(caught.value).startswith(f"path {tmp_path / 'a-file' / 'sheet.png'}: cannot write")


def test_preparing_pictures_needs_no_torch(tmp_path):
    Image.new("RGB", (60, 40), (250, 250, 250)).save(tmp_path / "p.png")
    code = (
        "import sys; from softmaxreg.data.pictures import load_image\n"
        "from softmaxreg.views import sheet\n"
        f"load_image({str(tmp_path / 'p.png')!r}); print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr
