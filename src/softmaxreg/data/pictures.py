"""People's own pictures, prepared the way Fashion-MNIST itself was made.

The data set's paper (Xiao et al. 2017, section 2) made its inputs from product photos like this:
trim the edges close to the background colour, resize the longest side to 28, sharpen, centre on
28x28, negate, 8-bit gray. `prepare` follows that recipe, made robust for pictures people take:

1. the backdrop is estimated from a band around the border: its colour (fitted as a plane, so
   light that falls off across the picture is backdrop too, and refitted without the pixels
   far from it, so an object touching the border does not sway it) and the tolerance around
   it, from the band's own noise (grain, JPEG artefacts), never less than the paper's 5%;
2. the picture is trimmed to the box of the pixels farther than that from the backdrop (after a
   3x3 median, so that a stray noisy pixel does not stretch the box);
3. the box is resized, aspect kept, to fit 28x28, and lightly sharpened;
4. each pixel's intensity is its contrast with the backdrop colour in its most different
   channel, so a dark product on white, a light one on black and a tinted one on any plain
   colour all come out bright on dark; `invert="yes"|"no"` takes the plain luminance instead,
   negated or as it is;
5. it is centred on a dark canvas and rounded to 8 bits.

A picture that already has the model's size was prepared already: it is only made bright on
dark (negated when its backdrop is bright), so Fashion-MNIST's own images come through exactly.
`crop=False` fits the whole picture instead (no trim, no sharpening), as earlier versions did.

Any image Pillow can read is accepted: 16-bit, RGBA, palette and other modes are converted
(transparent areas become a white backdrop), and images over a pixel limit are refused from
their header, before being decoded. numpy and Pillow only: no torch on this path.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError, ImageError, ImageTooLarge

IMAGE_SUFFIXES = set(".png .jpg .jpeg .bmp .gif .tif .tiff .webp .pgm .ppm .pbm .pnm".split())
MAX_PIXELS = 40_000_000  # ~6300x6300; a 20000x20000 image is refused before decoding
INVERT_CHOICES = ("auto", "yes", "no")

# Pictures are analysed at most this large: enough to place the object's box to a fraction of
# one of the 28 output pixels, while a phone photo's memory stays bounded and its noise averages.
WORKING_SIDE = 512
# The band of the border that shows the backdrop: 2% of the shorter side, at least one pixel.
BORDER_FRACTION = 0.02
# The paper's closeness: within 5% of the largest intensity is background colour.
MIN_TOLERANCE = 0.05 * 255
# Beyond this many standard deviations of the border's noise a pixel belongs to the object.
NOISE_DEVIATIONS = 4.0
# A Gaussian's standard deviation is 1.4826 times its median absolute deviation.
MAD_TO_STD = 1.4826
# Fits of the backdrop's plane, each to the border pixels near the one before.
FIT_ROUNDS = 3
# Unsharp masking of radius 1 after the resize, for the paper's Gaussian sharpening. On photos
# made from test images it gained a point of top-1 where they were blurred, lost half of one
# where they were crisp.
SHARPEN_PERCENT = 50


@dataclass(frozen=True, eq=False)
class Backdrop:
    """The picture's background: a colour that may change evenly across the picture, as it
    does under uneven light, and how far a pixel may stray from it, through noise and
    compression, and still be background."""

    # (3, channels): the colour at the centre, then its change from the centre to the bottom
    # edge and to the right edge.
    plane: np.ndarray
    tolerance: float

    @property
    def colour(self) -> np.ndarray:
        """The colour at the picture's centre."""
        return self.plane[0]

    @property
    def is_bright(self) -> bool:
        return float(luminance(self.colour[None, None, :])[0, 0]) > 127.5

    def render(self, shape: tuple[int, int]) -> np.ndarray:
        """The backdrop alone, float32 (h, w, channels), as if the object were not there."""
        y = _centred(np.arange(shape[0]), shape[0])[:, None, None]
        x = _centred(np.arange(shape[1]), shape[1])[None, :, None]
        middle, down, across = self.plane.astype(np.float32)
        return np.clip(middle + y * down + x * across, 0, 255)


def load_image(
    path: str | Path,
    size: tuple[int, ...] = (28, 28),
    invert: str = "auto",
    crop: bool = True,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """One picture as the model's uint8 (h, w) input, bright object on dark; see `prepare`."""
    check_invert(invert)
    return prepare(read_picture(path, max_pixels), size, invert, crop)


def check_invert(invert: str) -> None:
    """The `invert` argument of everything that prepares pictures (predict, import)."""
    if invert not in INVERT_CHOICES:
        raise ConfigError(
            f"{{name}} must be one of {', '.join(INVERT_CHOICES)}, got {invert!r}", "invert"
        )


# Reading ----------------------------------------------------------------------------------


def read_picture(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A picture file as float32 (h, w, channels) in [0, 255], 3 channels for colour and 1 for
    gray, at most WORKING_SIDE on its longest side. Any failure is a one-line ImageError."""
    path = Path(path)
    try:
        return _decode(path, str(path), max_pixels)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, expected an image") from None


def decode_picture(data: bytes, name: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """`read_picture` for a picture's bytes (an upload, say); errors name it `name`."""
    if not data:
        raise ImageError(f"{name}: empty, expected the bytes of an image")
    return _decode(io.BytesIO(data), name, max_pixels)


def _decode(source: Path | io.BytesIO, name: str, max_pixels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise ImageTooLarge(
                    f"{name}: image is {w}x{h} = {w * h} pixels, over the limit of "
                    f"{max_pixels}; shrink it first"
                )
            # A JPEG can decode at 1/2, 1/4 or 1/8 of its size directly, which spares most of
            # a phone photo's time and memory; other formats ignore the request.
            img.draft(None, (WORKING_SIDE, WORKING_SIDE))
            img.load()
            return _as_array(_shrink_to_working_size(_standard_mode(img)))
    except (ImageError, FileNotFoundError, IsADirectoryError):
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"{name}: image is over the limit of pixels ({exc})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image Pillow can read (PNG, JPEG, ...)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{name}: corrupt or truncated image ({exc})") from None


def _standard_mode(img):
    """L or RGB for 8-bit pictures, F scaled to 0..255 for deeper ones; transparent areas
    become white, the backdrop of a product shot."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.nan_to_num(np.asarray(img, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if img.mode in ("I", "F") and arr.max() <= 255:
            top = 255.0
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.float32), "F")
    if img.mode == "P" or "A" in img.mode or "a" in img.mode or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("L" if img.mode in ("L", "1") else "RGB")


def _shrink_to_working_size(img):
    from PIL import Image

    longest = max(img.size)
    if longest <= WORKING_SIDE:
        return img
    scale = WORKING_SIDE / longest
    new_size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _as_array(img) -> np.ndarray:
    arr = np.asarray(img, dtype=np.float32)
    return arr[..., None] if arr.ndim == 2 else arr


# Preparing --------------------------------------------------------------------------------


def prepare(
    pixels: np.ndarray,
    size: tuple[int, ...] = (28, 28),
    invert: str = "auto",
    crop: bool = True,
) -> np.ndarray:
    """A picture, (h, w) or (h, w, channels) with values in [0, 255], as the model's uint8
    input of `size`: trimmed to the object, fitted, bright on dark, centred (see above)."""
    check_invert(invert)
    pixels = _as_picture(pixels)
    backdrop = estimate_backdrop(pixels)
    if pixels.shape[:2] == tuple(size):
        return _to_uint8(_polarised_luminance(pixels, backdrop, invert))
    background = backdrop.render(pixels.shape[:2])
    if crop:
        top, bottom, left, right = object_box(pixels, background, backdrop.tolerance)
        pixels, background = pixels[top:bottom, left:right], background[top:bottom, left:right]
    # The backdrop is resized with the picture, so each pixel keeps the background it had.
    small, small_background = resize_to_fit(pixels, size), resize_to_fit(background, size)
    gray = intensity(small, small_background, invert)
    if crop:
        gray = sharpen(gray)
    return centre(gray, size)


def _as_picture(pixels) -> np.ndarray:
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or pixels.size == 0:
        raise ImageError(f"image has no pixels (an array of shape {pixels.shape})")
    return pixels


def estimate_backdrop(pixels: np.ndarray) -> Backdrop:
    """The backdrop seen in the border band: a plane of colour fitted to the band's pixels,
    starting from their median colour and refitted to the pixels near it (so an object that
    touches a part of the border does not tilt it); the tolerance is NOISE_DEVIATIONS times
    the noise left around the plane, never less than MIN_TOLERANCE."""
    rows, cols, band = border_band(pixels)
    design = _plane_design(rows, cols, pixels.shape[:2])
    plane = np.zeros((3, band.shape[1]))
    plane[0] = np.median(band, axis=0)
    for _ in range(FIT_ROUNDS):
        residual = band - design @ plane
        near = _largest_over_channels(np.abs(residual)) <= _tolerance(residual)
        if near.sum() < 3:
            break
        plane = np.linalg.lstsq(design[near], band[near], rcond=None)[0]
    return Backdrop(plane, _tolerance(band - design @ plane))


def _tolerance(residual: np.ndarray) -> float:
    """NOISE_DEVIATIONS standard deviations of the noisiest channel, estimated from the median
    absolute residual, which an object covering less than half of the border does not move."""
    noise = MAD_TO_STD * float(np.median(np.abs(residual), axis=0).max())
    return max(MIN_TOLERANCE, NOISE_DEVIATIONS * noise)


def border_band(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and colours (n, channels) of the pixels in a band BORDER_FRACTION wide
    around the picture's edge."""
    h, w, channels = pixels.shape
    width = max(1, round(min(h, w) * BORDER_FRACTION))
    band = np.zeros((h, w), dtype=bool)
    band[:width], band[-width:], band[:, :width], band[:, -width:] = True, True, True, True
    rows, cols = np.nonzero(band)
    return rows, cols, pixels[rows, cols].reshape(-1, channels)


def _plane_design(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(n, 3): 1, and where each pixel is, down and across (see `_centred`)."""
    y, x = _centred(rows, shape[0]), _centred(cols, shape[1])
    return np.stack([np.ones_like(y), y, x], axis=1)


def _centred(index: np.ndarray, length: int) -> np.ndarray:
    """Pixel centres from -1 (the top or left edge) to 1 (the bottom or right edge)."""
    return ((index + 0.5) / length * 2 - 1).astype(np.float32)


def object_box(
    pixels: np.ndarray, background: np.ndarray, tolerance: float
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pixels farther than `tolerance` from the background
    (see Backdrop.render); the whole picture when none are, since a blank picture has no
    object to trim to."""
    from PIL import Image, ImageFilter

    distance = _largest_over_channels(np.abs(pixels - background)).astype(np.float32)
    image = Image.fromarray(distance, "F")
    # The median keeps edges and parts two pixels wide, and drops isolated noisy pixels.
    if min(image.size) >= 3:
        image = image.filter(ImageFilter.MedianFilter(3))
    found = np.asarray(image) > tolerance
    rows, cols = np.flatnonzero(found.any(axis=1)), np.flatnonzero(found.any(axis=0))
    if len(rows) == 0:
        return 0, pixels.shape[0], 0, pixels.shape[1]
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def resize_to_fit(pixels: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """Scaled so that the longest side just fits in `size`, aspect kept (Lanczos, which also
    smooths away the aliasing a shrink would leave); each channel in 32-bit float."""
    from PIL import Image

    h, w, channels = pixels.shape
    scale = min(size[0] / h, size[1] / w)
    new_size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = [
        Image.fromarray(np.ascontiguousarray(pixels[..., i]), "F").resize(
            new_size, Image.Resampling.LANCZOS
        )
        for i in range(channels)
    ]
    # Lanczos rings a little past white and black near edges; that is no contrast.
    return np.clip(np.stack([np.asarray(r) for r in resized], axis=2), 0, 255)


def intensity(pixels: np.ndarray, background: np.ndarray, invert: str) -> np.ndarray:
    """Gray (h, w) in [0, 255] with the object bright: its contrast with the background
    (auto), or the luminance negated (yes) or as it is (no)."""
    if invert == "yes":
        return 255.0 - luminance(pixels)
    if invert == "no":
        return luminance(pixels)
    return contrast(pixels, background)


def contrast(pixels: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Each channel's distance from the background colour over the farthest that channel can
    go (255 from white or black, 200 from a gray of 200), the most different channel scaled
    to 255. On white a gray pixel gives 255 minus itself, the paper's negation."""
    reach = np.maximum(background, 255.0 - background)
    return _largest_over_channels(np.abs(pixels - background) / reach) * 255.0


def _polarised_luminance(pixels: np.ndarray, backdrop: Backdrop, invert: str) -> np.ndarray:
    """For a picture already of the model's size: the gray, negated when asked or, with
    auto, when its backdrop is bright; nothing else touches it."""
    negate = invert == "yes" or (invert == "auto" and backdrop.is_bright)
    return 255.0 - luminance(pixels) if negate else luminance(pixels)


def luminance(pixels: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (Pillow's own conversion to L); a single channel is taken as it is."""
    if pixels.shape[2] == 1:
        return pixels[..., 0]
    return pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _largest_over_channels(values: np.ndarray) -> np.ndarray:
    # Channel by channel: ten times faster than .max(axis=-1) over a last axis of length 3.
    return np.maximum.reduce([values[..., i] for i in range(values.shape[-1])])


def sharpen(gray: np.ndarray) -> np.ndarray:
    """An unsharp mask of radius 1 (SHARPEN_PERCENT strong)."""
    from PIL import Image, ImageFilter

    img = Image.fromarray(_to_uint8(gray), "L").filter(
        ImageFilter.UnsharpMask(radius=1, percent=SHARPEN_PERCENT, threshold=0)
    )
    return np.asarray(img, dtype=np.float32)


def centre(gray: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """The object in the middle of a dark canvas of `size`, as uint8. An odd spare pixel goes
    above and to the left, where the data set's own conversion put it."""
    out = np.zeros(size, dtype=np.uint8)
    h, w = gray.shape
    top, left = (size[0] - h + 1) // 2, (size[1] - w + 1) // 2
    out[top : top + h, left : left + w] = _to_uint8(gray)
    return out


def _to_uint8(gray: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(gray), 0, 255).astype(np.uint8)


# Finding ----------------------------------------------------------------------------------


def is_picture_name(name: str) -> bool:
    """A visible file with a picture's suffix. Hidden files (.DS_Store, the ._name copies
    macOS leaves on other disks) are never pictures, whatever their suffix."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def list_pictures(folder: str | Path) -> tuple[list[Path], int]:
    """The pictures under `folder`, recursively, in torchvision ImageFolder's order (folders
    sorted by path, each folder's files by name), and how many other visible files were passed
    over. Hidden files and folders are ignored. Holds one folder's listing, nothing more."""
    found: list[tuple[str, list[str]]] = []
    skipped = 0
    for where, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        pictures = sorted(f for f in filenames if is_picture_name(f))
        skipped += sum(1 for f in filenames if not f.startswith(".")) - len(pictures)
        found.append((where, pictures))
    paths = [Path(where, name) for where, names in sorted(found) for name in names]
    return paths, skipped


def find_images(paths) -> list[Path]:
    """Files as given; folders searched recursively for pictures (see `list_pictures`)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            inside, _ = list_pictures(p)
            if not inside:
                raise ImageError(f"{p}: no image files found in this directory")
            found.extend(inside)
        elif p.exists():
            found.append(p)
        else:
            raise ImageError(f"{p}: no such file or directory")
    return found
