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


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """`image` enlarged `scale` times by pixel repetition, so each LR pixel shows as a block."""
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def side_by_side(panels: Sequence[np.ndarray], top: int = 0) -> np.ndarray:
    """uint8 canvas of equally tall panels in a row, `GAP` white pixels apart, below `top` white rows."""
    height = panels[0].shape[0]
    canvas = np.full((top + height, sum(p.shape[1] for p in panels) + GAP * (len(panels) - 1), 3), 255, np.uint8)
    left = 0
    for panel in panels:
        canvas[top:, left:left + panel.shape[1]] = panel
        left += panel.shape[1] + GAP
    return canvas


def comparison_picture(lr: np.ndarray, upscaled: Sequence[np.ndarray], scale: int, labels: Sequence[str],
                       crop_size: int = CROP_SIZE) -> np.ndarray:
    """uint8 picture: LR enlarged by pixel repetition, then each upscaled image (e.g. bicubic, SR, HR),
    all over the same central crop, side by side, each under its label."""
    panels = [enlarge(lr, scale), *upscaled]
    if len(labels) != len(panels):
        raise ValueError(f"{len(labels)} labels for {len(panels)} panels.")
    height, width = panels[-1].shape[:2]
    rows, cols = _central_span(height, crop_size, scale), _central_span(width, crop_size, scale)
    crop_width = cols.stop - cols.start
    picture = Image.fromarray(side_by_side([panel[rows, cols] for panel in panels], top=LABEL_HEIGHT))
    draw, font = ImageDraw.Draw(picture), ImageFont.load_default()
    for index, label in enumerate(labels):
        draw.text((index * (crop_width + GAP) + 2, 1), label, fill=(0, 0, 0), font=font)
    return np.asarray(picture)
