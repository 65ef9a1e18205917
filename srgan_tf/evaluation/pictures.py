"""Side-by-side pictures (LR | bicubic | SR | HR) for people who would rather look than read a table."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CROP_SIZE = 256  # HR pixels: larger images show their central region, so details stay visible
GAP = 4
LABEL_HEIGHT = 14


def _central_span(length: int, size: int, scale: int) -> slice:
    """The central `size` pixels of `length`, starting on an LR pixel boundary."""
    span = min(length, size)
    start = (length - span) // 2 // scale * scale
    return slice(start, start + span)


def comparison_picture(lr: np.ndarray, upscaled: Sequence[np.ndarray], scale: int, labels: Sequence[str],
                       crop_size: int = CROP_SIZE) -> np.ndarray:
    """uint8 picture: LR enlarged by pixel repetition, then each upscaled image (e.g. bicubic, SR, HR),
    all over the same central crop, side by side, each under its label."""
    lr_nearest = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    panels = [lr_nearest, *upscaled]
    if len(labels) != len(panels):
        raise ValueError(f"{len(labels)} labels for {len(panels)} panels.")
    height, width = panels[-1].shape[:2]
    rows, cols = _central_span(height, crop_size, scale), _central_span(width, crop_size, scale)
    crop_height, crop_width = rows.stop - rows.start, cols.stop - cols.start
    canvas = np.full((LABEL_HEIGHT + crop_height, len(panels) * (crop_width + GAP) - GAP, 3), 255, np.uint8)
    for index, panel in enumerate(panels):
        left = index * (crop_width + GAP)
        canvas[LABEL_HEIGHT:, left:left + crop_width] = panel[rows, cols]
    picture = Image.fromarray(canvas)
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default()
    for index, label in enumerate(labels):
        draw.text((index * (crop_width + GAP) + 2, 1), label, fill=(0, 0, 0), font=font)
    return np.asarray(picture)
