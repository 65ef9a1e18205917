"""The exported SavedModel's contract: its signatures' names and their input and output keys.

| signature | input | outputs |
| --- | --- | --- |
| `SERVE_ENCODED` ("serving_default") | `IMAGE_BYTES`: string `[N]`, encoded images | `IMAGE_BYTES` (PNG), `HEIGHT`, `WIDTH` |
| `PREDICT_PIXELS` ("predict_pixels") | `PIXELS`: uint8 `[N, H, W, 3]` | `PIXELS`: uint8 `[N, sH, sW, 3]` |

The serving module defines them, the export's warm-up requests and the clients call them. Free of
TensorFlow, so the REST client (standard library only) can import it.
"""

# TF Serving calls this one when a request names no signature.
SERVE_ENCODED = "serving_default"
PREDICT_PIXELS = "predict_pixels"

# Encoded images in, PNGs out. TF Serving's REST API sends keys ending in "_bytes" base64-encoded.
IMAGE_BYTES = "image_bytes"
HEIGHT = "height"
WIDTH = "width"
PIXELS = "pixels"
