"""The Pillow/NumPy side of the image conventions, free of TensorFlow.

Record-writing worker processes import this module; importing TensorFlow there would cost each worker
about 4 s and 650 MB before it reads a single image.
"""
from __future__ import annotations

import numpy as np
from PIL import Image


def pil_to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any PIL image (grey, palette, RGBA, 16-bit, CMYK) as 8-bit RGB; alpha is dropped, not composited."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit (or 32-bit integer) grey: keep the top 8 bits of the full range.
        data = np.asarray(image, dtype=np.float64)
        top = 65535.0 if data.max(initial=0) > 255 or image.mode.startswith("I;16") else 255.0
        grey = np.clip(np.round(data / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)
