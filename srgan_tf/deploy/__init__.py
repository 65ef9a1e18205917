"""Exports that run without TensorFlow: ONNX (for ONNX Runtime) and LiteRT (`.tflite`, the TensorFlow Lite
interpreter), converted from one untiled uint8 pixel graph, and the runtimes that upscale with them in tiles
as the SavedModel does."""
