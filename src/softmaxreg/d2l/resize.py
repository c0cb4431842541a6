"""Pillow's bilinear resize of 8-bit grey images, reproduced exactly on whole batches.

The book resizes with torchvision's `Resize`, which hands each PIL image to Pillow. Pillow
resamples in two passes (rows, then columns; since Pillow 13, columns first when the height
shrinks more than twice as much as the width), each with weights rounded to 22-bit fixed point
and its result rounded to whole grey levels. A single float interpolation (torch's, even with
antialiasing) lands one grey level off for about one pixel in ten; doing the same integer
arithmetic as Pillow gives the same bytes. The products and sums stay below 2**53, so float64
matrix products compute them exactly.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch

PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed point for 8-bit images


@lru_cache(maxsize=16)
def pillow_weights(in_size: int, out_size: int) -> torch.Tensor:
    """(out_size, in_size) float64 matrix of Pillow's fixed-point weights for one axis."""
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)  # shrinking widens the filter: that is the antialiasing
    support = 1.0 * filter_scale  # the triangle filter reaches 1 input pixel each side
    inverse = 1.0 / filter_scale
    weights = torch.zeros(out_size, in_size, dtype=torch.float64)
    for out in range(out_size):
        center = (out + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        # Evaluated in Pillow's order of operations, so that every rounding is the same.
        taps = [max(0.0, 1.0 - abs((x - center + 0.5) * inverse)) for x in range(lo, hi)]
        total = sum(taps)
        for x, tap in zip(range(lo, hi), taps, strict=True):
            w = tap / total if total else tap
            weights[out, x] = math.floor(0.5 + w * (1 << PRECISION_BITS))  # w >= 0 here
    # Scaled by 2**-22 (exact in binary): a sum of products is then the fixed-point result
    # already divided, and rounding it is one floor.
    return weights / (1 << PRECISION_BITS)


@lru_cache(maxsize=16)
def _transposed(in_size: int, out_size: int) -> torch.Tensor:
    # Contiguous: a product with a transposed float64 view takes a path 50x slower.
    return pillow_weights(in_size, out_size).T.contiguous()


def _round_to_levels(acc: torch.Tensor) -> torch.Tensor:
    # Pillow starts each sum at one half and keeps the integer part, clipped to 0..255.
    return acc.add_(0.5).floor_().clamp_(0, 255)


@lru_cache(maxsize=1)
def _pillow_major() -> int:
    from PIL import __version__

    return int(__version__.split(".")[0])


def rows_first(height: int, width: int, size: tuple[int, int]) -> bool:
    """Whether Pillow (the installed version) resamples along the rows first."""
    shrink_h, shrink_w = height - size[0], width - size[1]
    return _pillow_major() < 13 or not (shrink_h > 0 and shrink_h > 2 * shrink_w)


def resize_like_pillow(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize uint8 images (..., h, w) to `size` = (H, W) as Pillow's BILINEAR does; returns
    whole grey levels as float64."""
    *lead, height, width = images.shape
    X = images.reshape(-1, height, width).to(torch.float64)

    # Each pass is one matrix product over the whole batch (a broadcast product of a small
    # matrix with a batch of images runs image by image, ten times slower).
    def along_rows(X):
        if size[1] == width:
            return X
        n, h, _ = X.shape
        return _round_to_levels(X.reshape(n * h, width) @ _transposed(width, size[1])).reshape(
            n, h, size[1]
        )

    def along_columns(X):
        if size[0] == height:
            return X
        n, _, w = X.shape
        columns = X.permute(1, 0, 2).reshape(height, n * w)
        out = _round_to_levels(pillow_weights(height, size[0]) @ columns)
        return out.reshape(size[0], n, w).permute(1, 0, 2)

    if rows_first(height, width, size):
        X = along_columns(along_rows(X))
    else:
        X = along_rows(along_columns(X))
    return X.reshape(*lead, *size)
