"""`softmaxreg book`'s files (a notebook's figures) are written atomically: a new file replaces
the old one by a rename, never by writing over its bytes where another name may share them."""

import base64
import io
import os
from types import SimpleNamespace

from PIL import Image

from softmaxreg.book import save_pictures


def test_saved_figures_replace_files_instead_of_writing_into_them(tmp_path):
    png = io.BytesIO()
    Image.new("L", (4, 4), 128).save(png, format="PNG")
    notebook = SimpleNamespace(
        cells=[
            {"outputs": [{"data": {"image/svg+xml": ["<svg>", "</svg>"]}}]},
            {"outputs": [{"data": {"text/plain": "1"}}, {"data": {"image/png": ""}}]},
        ]
    )
    notebook.cells[1]["outputs"][1]["data"]["image/png"] = base64.b64encode(png.getvalue()).decode()
    folder = tmp_path / "3.7-out"
    folder.mkdir()
    elsewhere = tmp_path / "keep.svg"
    elsewhere.write_text("someone else's file")
    os.link(elsewhere, folder / "3.7-figure-1.svg")  # the old figure shares its bytes
    saved = save_pictures(notebook, folder, "3.7")
    assert [p.name for p in saved] == ["3.7-figure-1.svg", "3.7-figure-2.png"]
    assert saved[0].read_text() == "<svg></svg>" and saved[1].read_bytes() == png.getvalue()
    assert elsewhere.read_text() == "someone else's file"
    assert sorted(p.name for p in folder.iterdir()) == ["3.7-figure-1.svg", "3.7-figure-2.png"]
