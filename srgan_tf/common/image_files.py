"""Image files: which formats each part reads, which files a command-line tool reads, where it writes each
result, and Pillow images as arrays (with their own channels and depth, or as 8-bit RGB). Free of TensorFlow:
record-writing worker processes import it, and TensorFlow would cost each of them about 4 s and 650 MB before
it reads a single image.

Both the local upscaler and the serving client take files and folders and write one PNG per input; they
plan all output names before any work starts, so a name clash or an existing file stops the run before
anything is written or overwritten.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

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

# A PNG's first bytes, and where its header (IHDR) holds the bit depth of a sample: 16 in 48- or 64-bit colour
# and 16-bit grey PNGs.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_BIT_DEPTH_OFFSET = 24

# Every format read from local files, with Pillow (`pil_to_array`; PNGs at 16 bits with TensorFlow, in
# `imaging.load_image`): what the upscale command takes.
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


def png_chunks(data: bytes) -> List[Tuple[int, int]]:
    """The (start, end) byte spans of the chunks of PNG `data`, as their length fields lay them out."""
    spans, position = [], len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        end = position + 12 + int.from_bytes(data[position:position + 4], "big")
        spans.append((position, min(end, len(data))))
        position = end
    return spans


_PNG_CRITICAL_CHUNKS = (b"IHDR", b"PLTE", b"IDAT", b"IEND")


def png_chunks_tensorflow_refuses(data: bytes) -> Optional[str]:
    """What, in the chunks of PNG `data`, TensorFlow's decoder (libpng) refuses though Pillow reads it: an
    IHDR that is not the first chunk and the only one, or a critical chunk it does not know. None if nothing."""
    kinds = [data[start + 4:start + 8] for start, _ in png_chunks(data)]
    if kinds[:1] != [b"IHDR"] or kinds.count(b"IHDR") > 1:
        return "its IHDR chunk is not the first and only one"
    unknown = [kind for kind in kinds if kind[:1].isupper() and kind not in _PNG_CRITICAL_CHUNKS]
    return f"an unknown critical chunk {unknown[0]!r}" if unknown else None


def refuse_decompression_bombs(path: str) -> None:
    """Raises ValueError naming `path` if its header declares more pixels than Pillow's decompression-bomb
    limit (`Image.MAX_IMAGE_PIXELS`), before any decoder allocates them: a file of a few kilobytes can declare
    billions of pixels, and TensorFlow's PNG decoder, unlike Pillow, has no limit of its own. A header that
    Pillow cannot read is left for the decoder to refuse."""
    try:
        with warnings.catch_warnings(), open(path, "rb") as f:
            # Pillow warns up to twice its limit, and refuses more.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            Image.open(f).close()  # reads the header only
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise ValueError(f"{path}: refused before decoding: {error}") from None
    except Exception:  # unreadable, or damaged (Pillow raises many types): the decoder names the file and why
        pass


# Pillow's modes of 16-bit (or 32-bit integer) grey, and the modes `pil_to_array` keeps as they are.
_SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_KEPT_MODES = {"1": "L", "L": "L", "LA": "LA", "PA": "RGBA", "RGBA": "RGBA"}


def pil_to_array(image: Image.Image) -> np.ndarray:
    """Any PIL image as `[H, W, C]` keeping its channels and depth: C is 1 (grey), 2 (grey, alpha), 3 (RGB) or
    4 (RGBA); 16-bit grey is uint16, the rest uint8. A palette with transparency becomes RGBA, CMYK and the
    like RGB. 32-bit integer grey (mode I) is read as 16 bits, or as 8 if no value exceeds 255.
    """
    if image.mode in _SIXTEEN_BIT_GREY:
        data = np.asarray(image)
        if image.mode == "I" and data.max(initial=0) <= 255:
            return np.clip(data, 0, 255).astype(np.uint8)[..., None]
        return np.clip(data, 0, 65535).astype(np.uint16)[..., None]
    mode = _KEPT_MODES.get(image.mode) or ("RGBA" if image.has_transparency_data else "RGB")
    pixels = np.asarray(image.convert(mode), dtype=np.uint8)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def to_rgb8(pixels: np.ndarray) -> np.ndarray:
    """`pil_to_array`'s `[H, W, C]` as 8-bit RGB: grey is replicated, alpha dropped (not composited) and
    16-bit levels rounded to the nearest 8-bit level."""
    colour = pixels[..., :3] if pixels.shape[-1] >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    if colour.dtype == np.uint16:
        colour = np.round(colour / 65535.0 * 255.0)
    return colour.astype(np.uint8)


def pil_to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any PIL image (grey, palette, RGBA, 16-bit, CMYK) as 8-bit RGB; alpha is dropped, not composited."""
    return to_rgb8(pil_to_array(image))
