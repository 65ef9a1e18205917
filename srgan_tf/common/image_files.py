"""Image files: which formats each part reads, which files a command-line tool reads, where it writes each
result, and Pillow images as 8-bit RGB arrays. Free of TensorFlow: record-writing worker processes import
it, and TensorFlow would cost each of them about 4 s and 650 MB before it reads a single image.

Both the local upscaler and the serving client take files and folders and write one PNG per input; they
plan all output names before any work starts, so a name clash or an existing file stops the run before
anything is written or overwritten.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True)
class ImageFormat:
    name: str  # as messages name it
    pillow: str  # Pillow's format identifier
    extensions: Tuple[str, ...]


PNG = ImageFormat("PNG", "PNG", (".png",))
JPEG = ImageFormat("JPEG", "JPEG", (".jpg", ".jpeg"))
BMP = ImageFormat("BMP", "BMP", (".bmp",))
GIF = ImageFormat("GIF", "GIF", (".gif",))
TIFF = ImageFormat("TIFF", "TIFF", (".tif", ".tiff"))
WEBP = ImageFormat("WebP", "WEBP", (".webp",))
PPM = ImageFormat("PPM", "PPM", (".ppm",))

# Every format read from local files, with Pillow (`pil_to_rgb_array`): what the upscale command takes.
READABLE_FORMATS = (PNG, JPEG, BMP, GIF, TIFF, WEBP, PPM)
# What TensorFlow's decoders (`tf.io.decode_image`) read: what the serving signature accepts, so what
# the serving client sends.
SERVABLE_FORMATS = (PNG, JPEG, BMP, GIF)
# Images that become training records: PNG and JPEG are stored as they are, BMP and WebP converted to PNG.
RECORD_FORMATS = (PNG, JPEG, BMP, WEBP)
# Benchmark folders for evaluation: the formats SR test sets come in.
BENCHMARK_FORMATS = (PNG, JPEG, BMP)


def extensions(formats: Sequence[ImageFormat]) -> Tuple[str, ...]:
    """The file extensions of `formats`, lower case with the dot."""
    return tuple(extension for image_format in formats for extension in image_format.extensions)


def format_names(formats: Sequence[ImageFormat]) -> str:
    """`formats` for a message: "PNG, JPEG, BMP or GIF"."""
    names = [image_format.name for image_format in formats]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


READABLE_EXTENSIONS = extensions(READABLE_FORMATS)
SERVABLE_EXTENSIONS = extensions(SERVABLE_FORMATS)


def find_images(paths: Sequence[str], extensions: Sequence[str] = SERVABLE_EXTENSIONS) -> List[str]:
    """Files as given, plus the images (by extension) directly inside each folder, in a stable order."""
    images = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if os.path.splitext(n)[1].lower() in extensions)
            images += [os.path.join(path, name) for name in names]
        elif os.path.isfile(path):
            images.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder.")
    if not images:
        raise FileNotFoundError(f"no images ({', '.join(extensions)}) found in {list(paths)}.")
    return images


def plan_outputs(images: Sequence[str], output_dir: str, suffix: str = "_sr",
                 overwrite: bool = False) -> Dict[str, str]:
    """Maps each input to `output_dir/<name><suffix>.png`.

    Refuses two inputs with one output name and, unless `overwrite`, outputs that already exist.
    """
    outputs: Dict[str, str] = {}
    for image in images:
        output = os.path.join(output_dir, os.path.splitext(os.path.basename(image))[0] + suffix + ".png")
        clash = next((other for other, planned in outputs.items() if planned == output), None)
        if clash is not None:
            raise ValueError(f"{image} and {clash} would both be written to {output}; rename one of them.")
        if not overwrite and os.path.exists(output):
            raise FileExistsError(f"{output} already exists; pass --overwrite to replace it.")
        outputs[image] = output
    return outputs


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
