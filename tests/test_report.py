"""The HTML report, opened in a real browser: headless Chromium from Debian's packages, driven
by Playwright (its own browser download cannot work offline, so it launches /usr/bin/chromium).
Under CI=true a missing browser is a failure: `make test` installs it."""

import re

import numpy as np
import pytest

import softmaxreg
from helpers import page_errors, run_cli


@pytest.fixture(scope="module")
def report(real_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("run") / "seed"
    softmaxreg.train(out=str(run), epochs=2)
    rc, out, err = run_cli("report", run)
    assert rc == 0, err
    assert out.strip() == str(run / "report.html")
    return run / "report.html"


def test_report_is_self_contained(report):
    page = report.read_text()
    for needle in (
        "Training curves",
        "Per-class scores",
        "Confusion matrix",
        "Learned weight templates",
        "Most confident mistakes",
        "Ankle boot",
        "<svg",
        "data:image/png;base64,",
    ):
        assert needle in page, needle
    # Nothing is fetched: no src/href to the network (XML namespaces are only names), no scripts.
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "<script" not in page and "<link" not in page


@pytest.mark.slow
def test_report_renders_in_headless_chromium(report, tmp_path, browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = page_errors(page)
    page.goto(report.as_uri())
    assert page.title().startswith("softmaxreg report")
    assert page.locator("img").count() >= 3 and page.locator("svg").count() >= 2
    broken = page.evaluate("[...document.images].filter(i => !i.naturalWidth).length")
    assert broken == 0
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert errors == []
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert pixels.shape[0] > 900 and pixels.std() > 10  # not blank
