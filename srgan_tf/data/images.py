"""One image file turned into what its record stores, or the reason it can't be used.

Runs in record-writing worker processes, so Pillow and NumPy only. The original bytes are kept when they
already are 8-bit RGB PNG or JPEG (no lossy re-encode); anything else becomes an 8-bit RGB PNG as
`pil_to_rgb_array` defines it.
"""
from __future__ import annotations

import dataclasses
import io
from typing import Union

from PIL import Image

from srgan_tf.common.image_files import JPEG, PNG, RECORD_FORMATS, format_names, pil_to_rgb_array
from srgan_tf.data.sources import ImageFile

READABLE_FORMATS = tuple(image_format.pillow for image_format in RECORD_FORMATS)
_PNG_END = b"IEND\xaeB`\x82"  # the last chunk's type and checksum, the same in every PNG


@dataclasses.dataclass(frozen=True)
class RecordImage:
    key: str
    encoded: bytes
    image_format: str  # "png" or "jpeg", as records.FEATURES names them
    height: int
    width: int
    converted: bool  # re-encoded as PNG rather than kept as read


@dataclasses.dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def _keeps_original_bytes(data: bytes, image: Image.Image) -> bool:
    if image.mode != "RGB":
        return False
    if image.format == JPEG.pillow:
        return True
    # Pillow reads 16-bit RGB PNGs as 8-bit "RGB" too; the header's bit depth (byte 24) tells them apart.
    return image.format == PNG.pillow and data[24] == 8


def _record_image(key: str, data: bytes, image: Image.Image) -> RecordImage:
    width, height = image.size
    if _keeps_original_bytes(data, image):
        return RecordImage(key, data, image.format.lower(), height, width, converted=False)
    png = io.BytesIO()
    Image.fromarray(pil_to_rgb_array(image)).save(png, format="PNG")
    return RecordImage(key, png.getvalue(), "png", height, width, converted=True)


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=READABLE_FORMATS)


def read_record_image(image_file: ImageFile, min_size: int = 0) -> Union[RecordImage, Skipped]:
    """Reads and checks one file; bad or too small (shorter side < `min_size`) input gives Skipped.

    Checks as strictly as TensorFlow's decoders will read the kept bytes in training: chunk checksums and
    the closing IEND chunk of PNGs (Pillow decodes a PNG cut short inside IEND; TensorFlow refuses it) and
    a full decode of every format.
    """
    path = image_file.path
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        return Skipped(path, f"cannot read the file ({error.strerror or error})")
    if not data:
        return Skipped(path, "empty file (0 bytes)")
    try:
        with _open(data) as image:
            width, height = image.size
            if min(width, height) < max(min_size, 1):
                return Skipped(path, f"{width}x{height} is smaller than the minimum size {min_size}")
            image.verify()
            if image.format == PNG.pillow and _PNG_END not in data:
                return Skipped(path, "truncated PNG (no complete IEND chunk)")
        with _open(data) as image:  # verify() leaves an image unusable: open again to decode
            image.load()
            return _record_image(image_file.key, data, image)
    except Image.UnidentifiedImageError:
        return Skipped(path, f"not a {format_names(RECORD_FORMATS)} image")
    except Exception as error:  # corrupt data makes decoders raise many types (OSError, SyntaxError, ...)
        return Skipped(path, f"corrupt or truncated image ({type(error).__name__}: {error})")
