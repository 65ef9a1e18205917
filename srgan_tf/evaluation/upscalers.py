"""What can upscale an image: bicubic, a shipped model, a training checkpoint, an exported SavedModel, an
`.onnx` or `.tflite` export, or a generator held in memory. The evaluate and upscale commands both load their `--model` with
`load_upscaler`.

Each takes one uint8 LR image `[h, w, 3]` and gives a uint8 SR image, the form in which SR results
are saved and compared in the literature; those that can also upscale uint16 images at full depth have a
16-bit path (`run16`). Generators (from a checkpoint or in memory) run through the serving module's
`predict_pixels` (and `predict_pixels16`), as an exported SavedModel does: large images are upscaled in tiles,
which by default give the untiled result (exactly for small generators, within one grey level for the
paper's), and images over the pixel limit are refused. ONNX and LiteRT exports are tiled the same way, from
Python, with the overlap their export recorded.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from srgan_tf import pretrained
from srgan_tf.common import imaging
from srgan_tf.common.console import describe_error
from srgan_tf.config import GeneratorConfig
from srgan_tf.deploy import formats
from srgan_tf.deploy.runtimes import load_portable
from srgan_tf.modeling import checkpointing
from srgan_tf.modeling.generator import float32_generator
from srgan_tf.serving.module import DEFAULT_MAX_PIXELS, SuperResolutionModule
from srgan_tf.serving.signatures import PIXELS, PREDICT_PIXELS, PREDICT_PIXELS16
from srgan_tf.serving.tiling import DEFAULT_TILE_SIZE, TilingConfig, tiling_for, upscale_in_tiles_eagerly

BICUBIC = "bicubic"
TENSORFLOW = "tf"
# What runs each kind of model: TensorFlow (checkpoints, SavedModels), ONNX Runtime, the LiteRT interpreter.
RUNTIMES = (TENSORFLOW, formats.ONNX, formats.LITERT)


@dataclasses.dataclass(frozen=True)
class Upscaler:
    """A named function from a uint8 LR image to a uint8 SR image `scale` times larger.

    `run` raises ValueError for an image it refuses (an evaluation skips that image). A wrong output size
    is the model's fault, not the image's, so it raises RuntimeError, which stops an evaluation. A
    SavedModel loaded without a scale upscales by its own: `scale` is None, and the output need only be
    an integer multiple of the input. `run16`, when there is one, does the same for uint16 images.
    """

    name: str
    scale: Optional[int]
    run: Callable[[np.ndarray], np.ndarray]
    label: str = "SR"  # short, for pictures and summaries
    description: str = ""  # what the model is, for a person: "checkpoint runs/srgan (step 7, x4)"
    run16: Optional[Callable[[np.ndarray], np.ndarray]] = None  # uint16 in, uint16 out; None: 8 bits only

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        return self._checked(lr, self.run(lr), np.uint8)

    def upscale(self, image) -> np.ndarray:
        """A uint8 RGB image `[h, w, 3]`, or an image file's path, upscaled: uint8 `[scale h, scale w, 3]`."""
        if isinstance(image, (str, os.PathLike)):
            image = imaging.load_rgb(os.fspath(image))
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"{self.name} upscales uint8 RGB images [height, width, 3], not {image.dtype} "
                             f"{list(image.shape)}.")
        return self(image)

    def upscale16(self, lr: np.ndarray) -> np.ndarray:
        """`run16` on a uint16 image, with the same checks; only for upscalers that have a 16-bit path."""
        if self.run16 is None:
            raise ValueError(f"{self.name} has no 16-bit path.")
        return self._checked(lr, self.run16(lr), np.uint16)

    def _checked(self, lr: np.ndarray, sr: np.ndarray, dtype) -> np.ndarray:
        sr = np.asarray(sr)
        scale = self.scale or max(1, sr.shape[0] // max(lr.shape[0], 1))
        expected = (lr.shape[0] * scale, lr.shape[1] * scale, 3)
        if sr.shape != expected or sr.dtype != dtype:
            raise RuntimeError(f"{self.name} turned a {lr.shape} LR image into {sr.dtype} {sr.shape}; "
                               f"expected {np.dtype(dtype)} {expected} for x{scale}.")
        return sr


def _refusals_as_value_errors(name: str, predict: Callable[[np.ndarray], np.ndarray]):
    """`predict`, raising ValueError naming `name` for an image the model refuses (e.g. over its pixel
    limit), so that one bad image is skipped, not fatal."""

    def run(lr: np.ndarray) -> np.ndarray:
        try:
            return predict(lr)
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"{name} refused the image: {describe_error(error)}") from error

    return run


def bicubic(scale: int) -> Upscaler:
    """The baseline: bicubic interpolation, as every SR table reports it."""

    def run(lr):
        return imaging.to_uint8(imaging.bicubic_upscale(imaging.to_float(lr), scale)).numpy()

    return Upscaler(BICUBIC, scale, run, label=BICUBIC, description=f"bicubic x{scale}")


def from_generator(generator, config: GeneratorConfig, name: str, tile_size: int = DEFAULT_TILE_SIZE,
                   tile_overlap: Optional[int] = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> Upscaler:
    """A generator held in memory (during training, say), run as its export would run it: through the
    serving module, in float32, tiled and with a pixel limit. Each call sees the generator's current weights."""
    evaluated = float32_generator(generator, config)
    module = SuperResolutionModule(evaluated, config.scale, tiling_for(config, tile_size, tile_overlap),
                                   max_pixels)

    def predict_with(signature: str):
        def predict(lr):
            if evaluated is not generator:  # a float32 copy of a mixed-precision generator still training
                evaluated.set_weights(generator.get_weights())
            # `module` is looked up here, at each call, so the upscaler keeps it (and its variables) alive.
            return module.signatures()[signature](tf.constant(lr[None]))[PIXELS].numpy()[0]

        return _refusals_as_value_errors(name, predict)

    return Upscaler(name, config.scale, predict_with(PREDICT_PIXELS), description=name,
                    run16=predict_with(PREDICT_PIXELS16))


def from_checkpoint(path: str, scale: Optional[int] = None, **tiling) -> Upscaler:
    """The generator of a model directory (latest checkpoint) or of one checkpoint prefix; `tiling`:
    `from_generator`'s tile_size, tile_overlap and max_pixels."""
    generator, config, step = checkpointing.load_generator(path)
    if scale is not None and config.scale != scale:
        raise ValueError(f"{path} holds a x{config.scale} generator, but the evaluation is at x{scale}.")
    upscaler = from_generator(generator, config, f"{path} (step {step})", **tiling)
    return dataclasses.replace(upscaler, description=f"checkpoint {path} (step {step}, x{config.scale})")


def from_shipped(name: str, scale: Optional[int] = None, **tiling) -> Upscaler:
    """A model shipped with the package (see `srgan_tf.pretrained`); `tiling` as for `from_checkpoint`."""
    generator, config = pretrained.load_generator(name)
    if scale is not None and config.scale != scale:
        raise ValueError(f"{name} is a x{config.scale} model, but the evaluation is at x{scale}.")
    upscaler = from_generator(generator, config, name, **tiling)
    return dataclasses.replace(upscaler, description=f"shipped model {name} (x{config.scale})")


def _pixels_signature(loaded, path: str, name: str, dtype: tf.DType) -> Callable[[np.ndarray], np.ndarray]:
    """Signature `name` of SavedModel `loaded` as a function of one image: it must take one `dtype` image
    batch and return one. Its input and output keys are read from the signature, so any naming works."""
    signature = loaded.signatures[name]
    _, inputs = signature.structured_input_signature
    outputs = {key: spec for key, spec in signature.structured_outputs.items() if spec.dtype == dtype}
    if len(inputs) != 1 or next(iter(inputs.values())).dtype != dtype or len(outputs) != 1:
        raise ValueError(f"{path}: '{name}' must take one {dtype.name} image batch and return one {dtype.name} "
                         f"image batch; it takes {inputs} and returns {signature.structured_outputs}.")
    (input_key,), (output_key,) = inputs, outputs

    def predict(lr):
        # `loaded` is referenced here so its variables live as long as this upscaler.
        return loaded.signatures[name](**{input_key: tf.constant(lr[None])})[output_key].numpy()[0]

    return _refusals_as_value_errors(path, predict)


def from_saved_model(path: str, scale: Optional[int] = None) -> Upscaler:
    """A SavedModel's `predict_pixels` signature (uint8 `[N, H, W, 3]` in and out) and, if it has one (exports
    since it was added do), its `predict_pixels16` (uint16) as the 16-bit path.

    The SavedModel brings its own tiling and pixel limit.
    """
    loaded = tf.saved_model.load(path)
    if PREDICT_PIXELS not in loaded.signatures:
        raise ValueError(f"{path}: the SavedModel has no '{PREDICT_PIXELS}' signature "
                         f"(it has {sorted(loaded.signatures)}).")
    run16 = None
    if PREDICT_PIXELS16 in loaded.signatures:
        run16 = _pixels_signature(loaded, path, PREDICT_PIXELS16, tf.uint16)
    return Upscaler(path, scale, _pixels_signature(loaded, path, PREDICT_PIXELS, tf.uint8),
                    description=f"SavedModel {path}", run16=run16)


def from_portable(path: str, scale: Optional[int] = None, *, tile_size: int = DEFAULT_TILE_SIZE,
                  tile_overlap: Optional[int] = None, max_pixels: int = DEFAULT_MAX_PIXELS,
                  threads: Optional[int] = None) -> Upscaler:
    """An `.onnx` (ONNX Runtime) or `.tflite` (LiteRT) export, tiled from Python as the serving graph tiles:
    by default with the overlap recorded at export, refusing images over `max_pixels`."""
    model = load_portable(path, threads)
    if scale is not None and model.info.scale != scale:
        raise ValueError(f"{path} holds a x{model.info.scale} model, but the evaluation is at x{scale}.")
    tiling = TilingConfig(tile_size, model.info.tile_overlap if tile_overlap is None else tile_overlap)

    def predict(lr):
        if lr.shape[0] * lr.shape[1] > max_pixels:
            raise ValueError(f"{path} refused the image: {lr.shape[0]} x {lr.shape[1]} pixels is over the limit "
                             f"of {max_pixels} (--max_pixels).")
        return upscale_in_tiles_eagerly(model, lr, model.info.scale, tiling)

    return Upscaler(path, model.info.scale, predict,
                    description=f"{model.format} export {path} (x{model.info.scale}, {model.info.generator})")


def self_ensemble(upscaler: Upscaler) -> Upscaler:
    """`upscaler` run on the 8 flips and rotations of its input, the outputs turned back and averaged (EDSR's
    geometric self-ensemble, its '+' rows): some tenths of a dB more, for 8 times the work. Labelled
    `<label>+`, so that a table reports it apart from the model itself, as papers do."""

    def run(lr: np.ndarray) -> np.ndarray:
        total = None
        for flipped in (False, True):
            image = lr[:, ::-1] if flipped else lr
            for turns in range(4):
                sr = np.rot90(upscaler(np.ascontiguousarray(np.rot90(image, turns))), -turns)
                sr = (sr[:, ::-1] if flipped else sr).astype(np.float64)
                total = sr if total is None else total + sr
        return np.clip(np.round(total / 8), 0, 255).astype(np.uint8)

    return Upscaler(f"{upscaler.name}+", upscaler.scale, run, label=f"{upscaler.label}+",
                    description=f"{upscaler.description}, self-ensembled over 8 flips and rotations")


def runtime_of(model: str) -> Optional[str]:
    """The runtime a `--model` needs: ONNX Runtime or LiteRT for their files, TensorFlow for the rest
    (None for bicubic, which needs none)."""
    return None if model == BICUBIC else formats.format_of(model) or TENSORFLOW


def resolve_saved_model(path: str) -> Optional[str]:
    """`path` if it is a SavedModel, its highest numeric version if it is a TF Serving base directory
    (`path/<version>/`), else None."""
    if tf.saved_model.contains_saved_model(path):
        return path
    if not os.path.isdir(path):
        return None
    versions = [int(name) for name in os.listdir(path)
                if name.isdigit() and tf.saved_model.contains_saved_model(os.path.join(path, name))]
    return os.path.join(path, str(max(versions))) if versions else None


def load_upscaler(model: str, scale: Optional[int] = None, *, tile_size: int = DEFAULT_TILE_SIZE,
                  tile_overlap: Optional[int] = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> Upscaler:
    """`bicubic` (needs `scale`), a SavedModel (or a TF Serving base directory: its latest version), an
    `.onnx` or `.tflite` export, a training model directory / checkpoint prefix, or the name of a shipped
    model where no such path exists. Labelled with the last part of the path.

    With `scale`, a model of another scale is refused; without, the model's own is used. The tiling and the
    pixel limit apply to checkpoints and to ONNX and LiteRT files: a SavedModel keeps those it was exported
    with.
    """
    if model == BICUBIC:
        if scale is None:
            raise ValueError(f"--model={BICUBIC} needs a scale (no model file holds one).")
        return bicubic(scale)
    if formats.format_of(model):
        upscaler = from_portable(model, scale, tile_size=tile_size, tile_overlap=tile_overlap,
                                 max_pixels=max_pixels)
    elif saved_model := resolve_saved_model(model):
        upscaler = from_saved_model(saved_model, scale)
    elif os.path.exists(model) or tf.io.gfile.exists(model + ".index"):
        upscaler = from_checkpoint(model, scale, tile_size=tile_size, tile_overlap=tile_overlap,
                                   max_pixels=max_pixels)
    elif pretrained.find(model):
        upscaler = from_shipped(model, scale, tile_size=tile_size, tile_overlap=tile_overlap, max_pixels=max_pixels)
    else:
        raise FileNotFoundError(f"{model}: no such SavedModel, model directory or checkpoint (nor an .onnx or "
                                f".tflite file, nor a shipped model: {', '.join(pretrained.names()) or 'none'}; "
                                f"or use '{BICUBIC}').")
    return dataclasses.replace(upscaler, label=os.path.basename(os.path.normpath(model)))
