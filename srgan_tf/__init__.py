"""srgan_tf: SRGAN / SRResNet single-image super-resolution for TensorFlow 2."""

__version__ = "0.1.0"

SUPPORTED_SCALES = (2, 4, 8)
