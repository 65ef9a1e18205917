"""Trained models shipped inside the package: names that every command accepts in place of a path.

`catalog.json` beside this file lists each model: its weights file (float16, in the order Keras' `get_weights`
gives them) and that file's SHA-256, the generator's shape, how it was trained and what it scores. Weights
are checked against the hash before they are loaded, so a damaged file is refused by name instead of giving
a network that upscales noise.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import os
from typing import Dict, List, Optional

import numpy as np

from srgan_tf.config import GeneratorConfig

DIRECTORY = os.path.dirname(os.path.abspath(__file__))
CATALOG_FILE = "catalog.json"


class DamagedModelError(ValueError):
    """A shipped weights file that does not match its recorded hash or its network."""


@dataclasses.dataclass(frozen=True)
class ShippedModel:
    name: str
    summary: str  # one line, for --list_models
    file: str  # beside this module
    sha256: str
    generator: GeneratorConfig
    parameters: int
    recipe: Dict[str, object]  # flagfile, command, CPU, training time
    scores: Dict[str, Dict[str, float]]  # per benchmark: psnr, ssim, niqe (x4, Y, border = scale)

    @property
    def path(self) -> str:
        return os.path.join(DIRECTORY, self.file)

    def to_json(self) -> dict:
        entry = dataclasses.asdict(self)
        entry["generator"] = json.loads(self.generator.to_json())
        return entry

    @classmethod
    def from_json(cls, entry: dict) -> "ShippedModel":
        return cls(**{**entry, "generator": GeneratorConfig.from_json(json.dumps(entry["generator"]))})


def read_catalog(directory: str = DIRECTORY) -> Dict[str, ShippedModel]:
    """The catalog of `directory`, by name, in its order."""
    path = os.path.join(directory, CATALOG_FILE)
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        entries = json.load(f)["models"]
    return {entry["name"]: ShippedModel.from_json(entry) for entry in entries}


@functools.lru_cache(maxsize=1)
def catalog() -> Dict[str, ShippedModel]:
    return read_catalog()


def names() -> List[str]:
    return list(catalog())


def find(name: str) -> Optional[ShippedModel]:
    return catalog().get(name)


def get(name: str) -> ShippedModel:
    """The shipped model called `name`; ValueError listing the names for any other."""
    model = find(name)
    if model is None:
        raise ValueError(f"{name!r} is no shipped model; the shipped models are {', '.join(names()) or 'none'} "
                         "(srgan-upscale --list_models).")
    return model


def weights_bytes(weights: List[np.ndarray]) -> bytes:
    """The weights file's contents: each array as float16, named by its position."""
    out = io.BytesIO()
    np.savez_compressed(out, **{f"w{i:03d}": np.asarray(w, np.float16) for i, w in enumerate(weights)})
    return out.getvalue()


def read_weights(model: ShippedModel) -> List[np.ndarray]:
    """The float32 weights of `model`, after checking the file's hash."""
    try:
        with open(model.path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise DamagedModelError(f"{model.path}: the weights of shipped model {model.name!r} cannot be read "
                                f"({error.strerror}); reinstall srgan_tf.") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != model.sha256:
        raise DamagedModelError(f"{model.path}: the weights of shipped model {model.name!r} are damaged (SHA-256 "
                                f"{digest[:16]}..., expected {model.sha256[:16]}...); reinstall srgan_tf.")
    with np.load(io.BytesIO(data)) as arrays:
        return [arrays[f"w{i:03d}"].astype(np.float32) for i in range(len(arrays.files))]


def load_generator(name: str):
    """The Keras generator of shipped model `name` with its weights, float32, ready to run or fine-tune.

    Returns `(generator, generator_config)`."""
    from srgan_tf.modeling.generator import build_generator  # TensorFlow only when a model is loaded

    model = get(name)
    generator = build_generator(model.generator)
    weights = read_weights(model)
    expected = [w.shape for w in generator.get_weights()]
    if [w.shape for w in weights] != expected:
        raise DamagedModelError(f"{model.path}: its weights do not fit the network catalog.json describes for "
                                f"{model.name!r}.")
    generator.set_weights(weights)
    return generator, model.generator
