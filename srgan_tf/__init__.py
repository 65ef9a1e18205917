"""srgan_tf: SRGAN / SRResNet single-image super-resolution for TensorFlow 2.

The Python API, for calling the library from code (TensorFlow is imported on first use, not by `import
srgan_tf`):

    import srgan_tf
    upscaler = srgan_tf.load_upscaler("srresnet-x4")     # or a SavedModel, checkpoint, .onnx or .tflite
    sr = upscaler.upscale("photo.jpg")                   # or a uint8 [h, w, 3] array; uint8 out, tiled
    generator = srgan_tf.pretrained_generator("srresnet-x4")  # a Keras model with its weights, to fine-tune
"""

__version__ = "0.1.0"


def load_upscaler(model: str, **options):
    """An `Upscaler` of `model`: a shipped model's name (`srgan_tf.pretrained.names()`), a SavedModel, a
    training model directory or checkpoint, an `.onnx` or `.tflite` export, or `bicubic` (with `scale=`).
    `options`: `scale` (refuse a model of another), `tile_size`, `tile_overlap`, `max_pixels`."""
    from srgan_tf.evaluation import upscalers

    return upscalers.load_upscaler(model, **options)


def pretrained_generator(name: str):
    """The Keras generator of a shipped model, float32, with its trained weights: for fine-tuning."""
    from srgan_tf import pretrained

    return pretrained.load_generator(name)[0]
