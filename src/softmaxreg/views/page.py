"""The pieces of softmaxreg's self-contained pages (the run report, the comparison of runs, the
server's answers): one HTML document with its style inline, figures as inline SVG, pictures as
PNG `data:` URLs, so that a page needs nothing but itself, no network and no scripts.

numpy and Pillow; matplotlib only to write a figure that was already drawn (no import here).
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

# What every page shares; each page adds the rules of its own parts.
BASE_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem} td,th{padding:.25rem .55rem;text-align:right}
th{background:#f3f3f3} img,svg{max-width:100%} svg{height:auto}
code{background:#f6f6f6;padding:0 .2rem}
"""


def html_page(title: str, style: str, body: str) -> str:
    """A whole HTML document: `title` (text, escaped here), BASE_STYLE and `style` inline, and
    `body` (HTML, as it is)."""
    return "\n".join(
        [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>{html.escape(title)}</title><style>{BASE_STYLE}{style}</style></head><body>",
            body,
            "</body></html>",
        ]
    )


def inline_svg(fig) -> str:
    """A matplotlib figure as an <svg> element, without the XML prologue, for a page."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg") :]


def png_data_url(picture: np.ndarray) -> str:
    """A uint8 picture, (h, w) gray or (h, w, 3) colour, as a PNG `data:` URL, which a page
    shows without another request."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buf, format="PNG")
    return _data_url(buf.getvalue())


def figure_data_url(fig) -> str:
    """A matplotlib figure as a PNG `data:` URL (for pictures of pixels, where an SVG of many
    small squares would be large and slow)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return _data_url(buf.getvalue())


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
