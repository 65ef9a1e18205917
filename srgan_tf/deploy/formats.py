"""The portable formats: their file suffixes, the optional extra each needs, and what every exported file
records about its model (the runtimes read it back to tile as the SavedModel tiles)."""
from __future__ import annotations

import dataclasses
import importlib
import json
import os
from typing import Optional

ONNX = "onnx"
LITERT = "litert"
SUFFIXES = {ONNX: ".onnx", LITERT: ".tflite"}
# The pip extra of srgan_tf that installs each format's converter and runtime.
EXTRAS = {ONNX: "onnx", LITERT: "litert"}
# What each extra brings: the converter (LiteRT's is TensorFlow's own) and the runtime.
_MODULES = {ONNX: ("tf2onnx", "onnx", "onnxruntime"), LITERT: ("ai_edge_litert.interpreter",)}


class MissingExtraError(ImportError):
    """A format's optional packages are not installed."""


def import_extra(module: str, format_name: str):
    """Imports `module`, or says which extra of srgan_tf installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f"the {format_name} format needs the '{module}' package, which is not installed: "
            f"pip install 'srgan_tf[{EXTRAS[format_name]}]'") from error


def require_extra(format_name: str) -> None:
    """Fails now, before any slow work, if `format_name`'s packages are missing."""
    for module in _MODULES[format_name]:
        import_extra(module, format_name)


def format_of(path: str) -> Optional[str]:
    """The portable format a file is in, by its suffix; None for anything else (a SavedModel, a checkpoint)."""
    suffix = os.path.splitext(path)[1].lower()
    return next((name for name, known in SUFFIXES.items() if known == suffix), None)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """What a portable file cannot tell by itself: its scale and the tile overlap its generator needs."""

    scale: int
    tile_overlap: int
    generator: str

    KEY = "srgan_tf"  # the metadata entry holding it, in both formats

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: Optional[str], path: str) -> "ModelInfo":
        if text is None:
            raise ValueError(f"{path}: no '{cls.KEY}' metadata; export it with `python -m srgan_tf.export`.")
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: unreadable '{cls.KEY}' metadata {text!r} ({error}).") from error
