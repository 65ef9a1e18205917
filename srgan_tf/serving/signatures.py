"""The exported SavedModel's contract: its signatures' names and their input and output keys.

    SERVE_ENCODED ("serving_default"): IMAGE_BYTES, string [N] of encoded images
        -> IMAGE_BYTES (PNGs), HEIGHT and WIDTH, int32 [N]
    PREDICT_PIXELS ("predict_pixels"): PIXELS, uint8 [N, H, W, 3] -> PIXELS, uint8 [N, scale*H, scale*W, 3]
    PREDICT_PIXELS16 ("predict_pixels16"): PIXELS, uint16 [N, H, W, 3]
        -> PIXELS, uint16 [N, scale*H, scale*W, 3]

The serving module defines them, the export's warm-up requests and the clients call them. Free of
TensorFlow, so the REST client (standard library only) can import it.
"""

# TF Serving calls this one when a request names no signature.
SERVE_ENCODED = "serving_default"
PREDICT_PIXELS = "predict_pixels"
PREDICT_PIXELS16 = "predict_pixels16"  # 16-bit images, upscaled without rounding them to 8 bits

# Encoded images in, PNGs out. TF Serving's REST API sends keys ending in "_bytes" base64-encoded.
IMAGE_BYTES = "image_bytes"
HEIGHT = "height"
WIDTH = "width"
PIXELS = "pixels"
