"""Serialisable building blocks of the SRGAN and ESRGAN networks (no Lambda layers)."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="srgan_tf")
class PixelShuffle(layers.Layer):
    """Sub-pixel upsampling: `[N, H, W, C * r^2] -> [N, rH, rW, C]` (Shi et al. 2016)."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return tf.nn.depth_to_space(inputs, self.factor)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        grow = lambda d: None if d is None else d * self.factor  # noqa: E731
        return (n, grow(h), grow(w), c // (self.factor ** 2))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="srgan_tf")
class NearestUpsample(PixelShuffle):
    """Nearest-neighbour upsampling `[N, H, W, C] -> [N, rH, rW, C]`, as the pixel shuffle of the channels
    repeated r^2 times: the same pixels as `UpSampling2D`, whose dynamic-shape repeats leave the convolution
    after them without a LiteRT builtin kernel."""

    def call(self, inputs):
        return super().call(tf.tile(inputs, [1, 1, 1, self.factor ** 2]))

    def compute_output_shape(self, input_shape):
        return super().compute_output_shape(input_shape)[:3] + (input_shape[3],)


@keras.saving.register_keras_serializable(package="srgan_tf")
class VggPreprocess(layers.Layer):
    """RGB in [0, 1] to what Keras' VGG19 expects: BGR in [0, 255] minus the ImageNet channel means."""

    MEAN_BGR = (103.939, 116.779, 123.68)

    def call(self, inputs):
        bgr = tf.reverse(tf.cast(inputs, self.compute_dtype), axis=[-1]) * 255.0
        return bgr - tf.constant(self.MEAN_BGR, dtype=self.compute_dtype)


def _keys_cubic(distance: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, the one `tf.image.resize(..., "bicubic")` uses."""
    t = np.abs(distance)
    near = (1.5 * t - 2.5) * t * t + 1.0
    far = ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0
    return np.where(t <= 1.0, near, np.where(t < 2.0, far, 0.0))


def bicubic_phase_weights(factor: int) -> np.ndarray:
    """`[factor, 5]` weights: output pixel `factor * i + p` is the sum of LR pixels `i - 2 .. i + 2` times row p.

    With half-pixel centres, output pixel o samples the input at `(o + 0.5) / factor - 0.5`, i.e. at
    `i + (p + 0.5) / factor - 0.5`, which lies within half a pixel of i, so five taps reach every weight.
    """
    offsets = (np.arange(factor) + 0.5) / factor - 0.5
    return _keys_cubic(offsets[:, None] - np.arange(-2, 3)[None, :])


@keras.saving.register_keras_serializable(package="srgan_tf")
class BicubicUpsample(layers.Layer):
    """Bicubic upscaling by an integer factor as one fixed convolution and a pixel shuffle.

    Equals `tf.image.resize(x, factor * size, "bicubic")` (half-pixel centres; taps beyond the border are
    dropped and the rest renormalised), but is made of ops every backend compiles: `ResizeBicubic` has no
    XLA kernel on CPU and does not convert to LiteRT, so a generator built on it could not be XLA-compiled
    or exported. Not trainable.
    """

    RADIUS = 2  # input pixels on each side that reach an output pixel: the 5-tap kernel's half-width

    def __init__(self, factor: int, **kwargs):
        kwargs["trainable"] = False  # also when rebuilt from a config that says so
        super().__init__(**kwargs)
        self.factor = factor
        phases = bicubic_phase_weights(factor)
        # [5, 5, 1, factor^2]: the 2-D kernel of output phase (py, px) is the outer product of the 1-D ones,
        # ordered py-major as depth_to_space expects.
        kernel = np.einsum("ay,bx->yxab", phases, phases).reshape(5, 5, 1, factor * factor)
        self._kernel = kernel.astype(np.float32)

    def _phases(self, planes: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(planes, tf.constant(self._kernel), strides=1, padding="SAME")

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)
        shape = tf.shape(x)
        n, h, w, c = shape[0], shape[1], shape[2], shape[3]
        planes = tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c, h, w, 1])  # each channel on its own
        # Zero padding drops the taps beyond the border; dividing by the weights that remain renormalises.
        phases = self._phases(planes) / self._phases(tf.ones([1, h, w, 1]))
        upscaled = tf.reshape(tf.nn.depth_to_space(phases, self.factor), [n, c, h * self.factor, w * self.factor])
        return tf.cast(tf.transpose(upscaled, [0, 2, 3, 1]), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        grow = lambda d: None if d is None else d * self.factor  # noqa: E731
        return (n, grow(h), grow(w), c)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="srgan_tf")
class FusedBatchNormalization(layers.BatchNormalization):
    """Keras' BatchNormalization, trained with TensorFlow's fused kernel.

    Keras 3 normalises a training batch with a dozen elementwise ops, each a pass over the activation (in
    float32, after a cast, under mixed precision); `FusedBatchNormV3` makes one pass forward and one
    backward, bfloat16 included: it took a quarter off the paper's pretraining step in bfloat16. The variables,
    checkpoints and moving statistics are Keras' (the moving variance averages the biased batch variance);
    inference is Keras' own code.
    """

    def call(self, inputs, training=None, mask=None):
        fusable = (training and self.trainable and mask is None and not self.renorm and not self.synchronized
                   and self.center and self.scale and len(inputs.shape) == 4 and self.axis in (-1, 3))
        if not fusable:
            return super().call(inputs, training=training, mask=mask)
        outputs, mean, unbiased_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, tf.convert_to_tensor(self.gamma), tf.convert_to_tensor(self.beta), epsilon=self.epsilon,
            is_training=True)
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], tf.float32)
        variance = unbiased_variance * (count - 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)


@keras.saving.register_keras_serializable(package="srgan_tf")
class StridedConv2D(layers.Conv2D):
    """Keras' Conv2D, its "same" padding of a strided convolution added explicitly before a "valid" one.

    The result, the weights and the checkpoints are the same. On TensorFlow 2.21 with oneDNN, the bfloat16
    gradient of a strided "same" convolution's kernel is garbage (NaN in some runs) when its input is 1x1,
    the padding larger than the input: what the last stage of a discriminator sees on a small patch (VGG128's
    on 16 x 16). Padded beforehand, the convolution needs no padding of its own, and its gradient is right.
    """

    def convolution_op(self, inputs, kernel):
        if self.padding != "same" or max(self.strides) == 1:
            return super().convolution_op(inputs, kernel)
        paddings = [[0, 0]]
        for axis, (size, stride, rate) in enumerate(zip(self.kernel_size, self.strides, self.dilation_rate), 1):
            length, span = tf.shape(inputs)[axis], (size - 1) * rate + 1
            total = tf.maximum((-(-length // stride) - 1) * stride + span - length, 0)
            paddings.append([total // 2, total - total // 2])  # TensorFlow's "same": the odd pixel after
        paddings.append([0, 0])
        return tf.nn.convolution(tf.pad(inputs, paddings), kernel, strides=list(self.strides), padding="VALID",
                                 dilations=list(self.dilation_rate))


@keras.saving.register_keras_serializable(package="srgan_tf")
class SpectralNormalization(layers.SpectralNormalization):
    """Keras' spectral normalisation (Miyato et al. 2018), with its power iteration and kernel in float32 under
    mixed precision.

    Keras' layer, in each training call, runs one power iteration from `vector_u` (a non-trainable weight:
    checkpointed, and kept equal on every replica by the trainer with the other non-trainable weights), divides
    the wrapped kernel by the largest singular value it estimates and assigns the result to the kernel
    variable, which the wrapped layer then reads; inference uses the kernel as stored. Under a mixed policy,
    in a model, it read the kernel autocast to bfloat16 or float16 and so stored the float32 kernel rounded on
    every training call: on a normalised 64-to-128 4x4 kernel that erased 22% of Adam steps of 1e-4 and 90% of
    1e-5. This wrapper does not autocast its own reads (the wrapped layer still computes in the policy's
    dtype); Keras ignores that for a layer called on its own, outside a model.

    Unlike PyTorch's `spectral_norm` (Real-ESRGAN's), which keeps the raw kernel and divides it by sigma in
    every forward pass, with the gradient through sigma, the kernel stored here is the normalised one, and the
    gradient is taken at it with sigma held constant: its component along the top singular direction, which
    PyTorch's projects out, moves sigma and is normalised away at the next call, and Adam's steps are relative
    to a kernel of spectral norm 1 rather than to the raw kernel's. Trained alone on a small real/fake task
    from the same weights, a U-Net of either kind reached about the same held-out loss.
    """

    def __init__(self, layer, power_iterations: int = 1, **kwargs):
        kwargs["autocast"] = False  # also when rebuilt from a config
        super().__init__(layer, power_iterations=power_iterations, **kwargs)


def residual_block(x, filters: int, name: str, batch_norm: bool = True, residual_scaling: float = 1.0):
    """conv-BN-PReLU-conv-BN plus the identity, as in SRResNet; without BatchNorm as in EDSR, whose
    residual scaling (e.g. 0.1) keeps wide networks stable."""
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(x)
    if batch_norm:
        y = FusedBatchNormalization(name=f"{name}_bn1")(y)
    y = layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(y)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(y)
    if batch_norm:
        y = FusedBatchNormalization(name=f"{name}_bn2")(y)
    if residual_scaling != 1.0:
        y = layers.Rescaling(residual_scaling, name=f"{name}_scale")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def upsample_block(x, filters: int, name: str):
    """conv to 4x the filters, pixel shuffle x2, PReLU."""
    x = layers.Conv2D(filters * 4, 3, padding="same", name=f"{name}_conv")(x)
    x = PixelShuffle(2, name=f"{name}_shuffle")(x)
    return layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)


# ESRGAN's residual scaling (beta) of dense blocks and of residual-in-residual blocks.
RRDB_RESIDUAL_SCALING = 0.2
# ESRGAN's "smaller initialisation": He-normal weights times 0.1 in the dense blocks, so the residual branches
# start near zero and the deep network trains stably (variance 2/fan_in times 0.1 squared).
DENSE_INITIALIZER = dict(kernel_initializer=keras.initializers.VarianceScaling(0.02, "fan_in", "untruncated_normal"))


def _scaled_add(x, y, name: str):
    y = layers.Rescaling(RRDB_RESIDUAL_SCALING, name=f"{name}_scale")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def dense_block(x, filters: int, growth_channels: int, name: str):
    """ESRGAN's residual dense block: four 3x3 convolutions adding `growth_channels` each to all the features
    before them, LeakyReLU 0.2, a fifth back to `filters`, scaled by 0.2 and added to the input."""
    features = [x]
    for i in range(1, 5):
        inputs = features[0] if i == 1 else layers.Concatenate(name=f"{name}_concat{i}")(features)
        y = layers.Conv2D(growth_channels, 3, padding="same", name=f"{name}_conv{i}", **DENSE_INITIALIZER)(inputs)
        features.append(layers.LeakyReLU(0.2, name=f"{name}_lrelu{i}")(y))
    y = layers.Concatenate(name=f"{name}_concat5")(features)
    y = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv5", **DENSE_INITIALIZER)(y)
    return _scaled_add(x, y, name)


def rrdb_block(x, filters: int, growth_channels: int, name: str):
    """Residual-in-residual dense block: three dense blocks in a row, scaled by 0.2 and added to the input."""
    y = x
    for i in range(1, 4):
        y = dense_block(y, filters, growth_channels, name=f"{name}_rdb{i}")
    return _scaled_add(x, y, name)


def nearest_upsample_block(x, filters: int, name: str):
    """ESRGAN's upsampler: nearest-neighbour x2, 3x3 convolution, LeakyReLU 0.2 (no checkerboard artefacts of
    a transposed convolution; pixel shuffle is SRResNet's)."""
    x = NearestUpsample(2, name=f"{name}_nearest")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)
    return layers.LeakyReLU(0.2, name=f"{name}_lrelu")(x)
