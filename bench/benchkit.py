"""What several bench scripts share: the interleaved rounds of their rows, and the small model
with one photo that the prediction benchmarks use. (Named so that it shadows no installed
package: each script's folder comes first on sys.path.)"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path


def interleaved_rounds(
    script: str, keys: Sequence[str], labels: Mapping[str, str], repeat: int
) -> dict[str, list[dict]]:
    """Run `script --row KEY` for every key, `repeat` rounds with the rows interleaved (a slow
    spell of a shared machine falls on every row alike), each in its own process so that its
    peak RSS is its own; each run prints one JSON line last. Returns each row's results."""
    rounds: dict[str, list[dict]] = {key: [] for key in keys}
    for n in range(repeat):
        for key in keys:
            print(f"round {n + 1}/{repeat}: ({key}) {labels[key]} ...", file=sys.stderr, flush=True)
            out = subprocess.run(
                [sys.executable, script, "--row", key], check=True, capture_output=True, text=True
            ).stdout
            rounds[key].append(json.loads(out.strip().splitlines()[-1]))
    return rounds


def make_model_and_picture(folder: Path) -> tuple[Path, Path]:
    """A trained run (one epoch: as large as the seed's model) and a photo to predict: a
    test image enlarged, dark on a white canvas."""
    import numpy as np
    from PIL import Image

    from softmaxreg.data import load_dataset

    run = folder / "run"
    subprocess.run(
        [sys.executable, "-m", "softmaxreg", "train", "--epochs", "1", "--out", run, "-q"],
        check=True,
    )
    image = load_dataset().test_images[0]
    big = np.asarray(Image.fromarray(image).resize((160, 160), Image.Resampling.BICUBIC))
    canvas = np.full((220, 300), 255, np.uint8)
    canvas[30:190, 90:250] = 255 - big
    picture = folder / "one.png"
    Image.fromarray(canvas).save(picture)
    return run, picture
