"""People's own pictures, turned into Fashion-MNIST-like inputs.

Fashion-MNIST images are grayscale, the object fitted into 28x28 keeping its aspect ratio, a
bright object on a dark background. Any image Pillow can read is converted the same way:
16-bit, RGBA, palette and other modes are converted (transparent areas become background),
`invert="auto"` decides from the border pixels whether the background is bright, and images
over a pixel limit are refused from their header, before being decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ImageError

IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
    ".ppm",
    ".pbm",
    ".pnm",
}
MAX_PIXELS = 40_000_000  # ~6300x6300; a 20000x20000 image is refused before decoding
INVERT_CHOICES = ("auto", "yes", "no")


def load_image(
    path: str | Path,
    size: tuple[int, ...] = (28, 28),
    invert: str = "auto",
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:
    """One image as uint8 (h, w): grayscale, bright object on dark, fitted and padded."""
    from PIL import Image, UnidentifiedImageError

    if invert not in INVERT_CHOICES:
        raise ImageError(f"--invert must be one of {', '.join(INVERT_CHOICES)}, got {invert!r}")
    path = Path(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise ImageError(
                    f"{path}: image is {w}x{h} = {w * h} pixels, over the limit of "
                    f"{max_pixels}; shrink it first"
                )
            img.load()
            gray = _to_gray(img)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, expected an image") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: image is over the limit of pixels ({exc})") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read (PNG, JPEG, ...)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{path}: corrupt or truncated image ({exc})") from None
    return fit(gray, size, invert)


def _to_gray(img) -> np.ndarray:
    """Any Pillow mode to float32 gray in [0, 255]; transparency becomes white background."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = 65535.0 if img.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        if img.mode in ("I", "F") and arr.max() <= 255:
            top = 255.0
        return np.clip(arr / top * 255.0, 0, 255)
    if img.mode == "P" or "A" in img.mode or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("L"), dtype=np.float32)


def fit(gray: np.ndarray, size: tuple[int, ...] = (28, 28), invert: str = "auto") -> np.ndarray:
    """Invert if needed, scale the longest side to fit `size`, pad with dark background."""
    from PIL import Image

    if gray.size == 0:
        raise ImageError("image has no pixels")
    if invert == "yes" or (invert == "auto" and _border_is_bright(gray)):
        gray = 255.0 - gray
    h, w = gray.shape
    scale = min(size[0] / h, size[1] / w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray(gray.astype(np.float32), mode="F").resize(
        (new_w, new_h), Image.Resampling.LANCZOS
    )
    out = np.zeros(size, dtype=np.float32)
    top, left = (size[0] - new_h) // 2, (size[1] - new_w) // 2
    out[top : top + new_h, left : left + new_w] = np.asarray(small)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _border_is_bright(gray: np.ndarray) -> bool:
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return float(border.mean()) > 127.5


def find_images(paths) -> list[Path]:
    """Files as given, directories searched recursively for image files (sorted)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            inside = sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise ImageError(f"{p}: no image files found in this directory")
            found.extend(inside)
        elif p.exists():
            found.append(p)
        else:
            raise ImageError(f"{p}: no such file or directory")
    return found
