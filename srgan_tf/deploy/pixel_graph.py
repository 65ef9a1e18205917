"""The graph both converters take: uint8 `[N, H, W, 3]` in, uint8 `[N, sH, sW, 3]` out, with dynamic N, H
and W (the `predict_pixels` contract), untiled: the runtimes tile in Python, where the window loop costs
nothing next to the network and needs no control flow the formats would have to express.
"""
from __future__ import annotations

import functools
import re
from typing import Iterable, List

import keras
import tensorflow as tf

from srgan_tf.common.imaging import to_float, to_uint8
from srgan_tf.serving.signatures import PIXELS

INPUT_NAME = PIXELS
OUTPUT_NAME = "upscaled"  # ONNX needs it to differ from the input's name


class UnconvertibleError(ValueError):
    """The generator holds an operation the target format has no standard operator for."""


class PixelGraph(tf.Module):
    """A generator's pixel graph with its variables tracked, so that converters find their values."""

    def __init__(self, generator: keras.Model):
        super().__init__(name="pixel_graph")
        self.generator = generator
        self.generator_variables = [weight.value for weight in generator.weights]
        self._call = functools.partial(generator, training=False)
        self.upscale = tf.function(self._upscale, input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.uint8, name=INPUT_NAME)])

    def _upscale(self, pixels):
        return {OUTPUT_NAME: to_uint8(self._call(to_float(pixels)))}

    def concrete_function(self):
        return self.upscale.get_concrete_function()

    def layers_running(self, op_types: Iterable[str]) -> List[str]:
        """The generator's layers whose TensorFlow ops are of `op_types`, in graph order."""
        op_types = set(op_types)
        graph_def = self.concrete_function().graph.as_graph_def()
        nodes = list(graph_def.node) + [node for function in graph_def.library.function
                                        for node in function.node_def]
        layer_names = {layer.name for layer in self.generator.layers}
        found = []
        for node in nodes:
            if node.op not in op_types:
                continue
            # Op names are scoped by model and layer, which Keras may suffix: "rrdbnet_1/up0_conv_1/Conv2D".
            scopes = node.name.split("/")[:-1]
            names = [name for scope in scopes for name in (scope, re.sub(r"_\d+$", "", scope)) if name in layer_names]
            if names and names[0] not in found:
                found.append(names[0])
        return found

    def unconvertible(self, op_types: Iterable[str], format_name: str) -> UnconvertibleError:
        op_types = sorted(set(op_types))
        layers = self.layers_running(op_types) or ["(no layer found)"]
        return UnconvertibleError(
            f"{format_name} has no standard operator for {', '.join(op_types)}, used by layer "
            f"{', '.join(repr(name) for name in layers)} of generator '{self.generator.name}'; "
            "this generator cannot be exported to that format.")
