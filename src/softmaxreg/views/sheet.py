"""What the model saw: a PNG sheet with each picture beside its 28x28 input and top class.

`predict --show FILE.png` writes it, so that a person can see at once whether a wrong answer
comes from the model or from the preparation (a bad crop, a lost object, the wrong polarity).
numpy and Pillow only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..fileio import atomic_path

CELL = 112  # pixels of one picture cell: the 28x28 input drawn 4x, each pixel a square
GAP = 8
CAPTION_WIDTH = 260
MAX_ROWS = 100  # enough to look through; a folder of thousands would make a useless strip
PAPER = (255, 255, 255)
FRAME = (200, 200, 200)
INK = (20, 20, 20)


def check_sheet_path(path: str | Path) -> Path:
    """The --show argument: a .png file name (its folder is made when the sheet is written)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(
            f"{{name}}: expected a file name ending in .png, got {str(path)!r}", "show"
        )
    if path.is_dir():
        raise ConfigError(
            f"{{name}} {path}: is a directory; pass a file name ending in .png", "show"
        )
    return path


@dataclass
class Row:
    original: object  # a Pillow image no larger than CELL x CELL
    model_input: np.ndarray  # uint8 (h, w)
    caption: list[str]


@dataclass
class InputSheet:
    """Rows in prediction order; the first MAX_ROWS pictures are kept, the rest only counted."""

    max_rows: int = MAX_ROWS
    rows: list[Row] = field(default_factory=list)
    taken: int = 0
    left_out: int = 0

    def thumbnail_for(self, picture: np.ndarray):
        """The picture's thumbnail if the sheet has room for it, else None (and counted), so
        that a folder of thousands costs no thumbnails beyond the first MAX_ROWS."""
        if self.taken >= self.max_rows:
            self.left_out += 1
            return None
        self.taken += 1
        return thumbnail(picture)

    def add(self, shown, model_input: np.ndarray, record: dict) -> None:
        """One predicted picture: `shown` from `thumbnail_for` (None: no room, nothing drawn),
        its prepared input and the prediction record of that input."""
        if shown is not None:
            self.rows.append(Row(shown, model_input, _caption(record)))

    def render(self):
        """The sheet as a Pillow RGB image, one row per picture."""
        from PIL import Image, ImageDraw, ImageFont

        if not self.rows:
            raise ValueError("no rows to render")
        width = 2 * CELL + CAPTION_WIDTH + 4 * GAP
        height = len(self.rows) * (CELL + GAP) + GAP
        sheet = Image.new("RGB", (width, height), PAPER)
        draw = ImageDraw.Draw(sheet)
        font = ImageFont.load_default()
        for i, row in enumerate(self.rows):
            top = GAP + i * (CELL + GAP)
            _paste_centred(sheet, row.original, GAP, top)
            _paste_centred(sheet, _enlarged(row.model_input), 2 * GAP + CELL, top)
            draw.rectangle((GAP - 1, top - 1, GAP + CELL, top + CELL), outline=FRAME)
            draw.multiline_text(
                (3 * GAP + 2 * CELL, top + 4),
                "\n".join(row.caption),
                fill=INK,
                font=font,
                spacing=6,
            )
        return sheet

    def save(self, path: str | Path) -> Path:
        """Written atomically: a reader never sees half a PNG."""
        path = Path(path)
        image = self.render()
        try:
            with atomic_path(path) as tmp:
                image.save(tmp, format="PNG")
        except OSError as exc:
            raise ConfigError(
                f"{{name}} {path}: cannot write ({exc.strerror or exc})", "path"
            ) from None
        return path


def thumbnail(picture: np.ndarray):
    """A picture from `data.pictures.read_picture` (float (h, w, channels) in 0..255) as an RGB
    Pillow image that fits in one cell, aspect kept."""
    from PIL import Image

    pixels = np.clip(np.rint(picture), 0, 255).astype(np.uint8)
    img = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    img = img.convert("RGB")
    scale = CELL / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.NEAREST)


def _enlarged(model_input: np.ndarray):
    """The input as the model saw it: each of its pixels a square block, no smoothing."""
    from PIL import Image

    img = Image.fromarray(model_input, "L").convert("RGB")
    scale = CELL / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.NEAREST)


def _paste_centred(sheet, img, left: int, top: int) -> None:
    sheet.paste(img, (left + (CELL - img.width) // 2, top + (CELL - img.height) // 2))


def _caption(record: dict) -> list[str]:
    name = Path(record["path"]).name
    if len(name) > 36:
        name = name[:16] + "..." + name[-17:]
    lines = [name] + [f"{t['class']}  {t['probability']:.3f}" for t in record["top"]]
    # Pillow's built-in bitmap font (used where FreeType is missing) has ASCII only.
    return [line.encode("ascii", "replace").decode("ascii") for line in lines]
