"""A client for a TF Serving model exported by this library, over REST or gRPC.

One request carries encoded images (PNG, JPEG, BMP or GIF) to the `serving_default` signature; each
comes back as a `Prediction` (the upscaled PNG and its size).
REST: `POST http://HOST:PORT/v1/models/NAME[/versions/N]:predict` with
`{"signature_name": ..., "instances": [{"image_bytes": {"b64": ...}}]}`; TF Serving answers
`{"predictions": [{"image_bytes": {"b64": ...}, "height": H, "width": W}]}` (outputs whose name ends in
`_bytes` come base64-encoded) or `{"error": "..."}`.

The REST path uses only the standard library; TensorFlow (for the tensor protos) is imported only for gRPC.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import urllib.error
import urllib.request
from typing import List, Optional, Sequence

from srgan_tf.serving.signatures import HEIGHT, IMAGE_BYTES, SERVE_ENCODED, WIDTH


class ServingError(RuntimeError):
    """The server refused a request (TF Serving's error message) or could not be reached."""


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One upscaled image as the `serving_default` signature returns it."""

    png: bytes
    height: int
    width: int


def rest_url(server: str, model_name: str, version: Optional[int] = None) -> str:
    path = f"/v1/models/{model_name}" + ("" if version is None else f"/versions/{version}")
    return f"http://{server}{path}:predict"


def rest_request(images: Sequence[bytes], signature_name: str = SERVE_ENCODED) -> dict:
    """TF Serving's row ("instances") format; binary inputs go as `{"b64": ...}`."""
    instances = [{IMAGE_BYTES: {"b64": base64.b64encode(image).decode("ascii")}} for image in images]
    return {"signature_name": signature_name, "instances": instances}


def parse_rest_response(body: dict) -> List[Prediction]:
    if "error" in body:
        raise ServingError(body["error"])
    try:
        return [Prediction(base64.b64decode(row[IMAGE_BYTES]["b64"]), int(row[HEIGHT]), int(row[WIDTH]))
                for row in body["predictions"]]
    except (KeyError, TypeError) as error:
        raise ServingError(f"unexpected response (no {error} in it): {json.dumps(body)[:200]}") from error


def predict_rest(url: str, images: Sequence[bytes], timeout: float = 300.0) -> List[Prediction]:
    data = json.dumps(rest_request(images)).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return parse_rest_response(json.load(response))
    except urllib.error.HTTPError as error:  # TF Serving puts the reason in a JSON body
        body = error.read().decode("utf-8", "replace")
        try:
            message = json.loads(body)["error"]
        except (ValueError, KeyError, TypeError):
            message = body[:500]
        raise ServingError(f"HTTP {error.code} from {url}: {message}") from error
    except urllib.error.URLError as error:
        raise ServingError(f"cannot reach {url}: {error.reason}") from error


def grpc_request(images: Sequence[bytes], model_name: str, version: Optional[int] = None,
                 signature_name: str = SERVE_ENCODED):
    """A `PredictRequest` carrying the encoded images as a DT_STRING `[N]` tensor."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    request.inputs[IMAGE_BYTES].CopyFrom(tf.make_tensor_proto(list(images), dtype=tf.string,
                                                              shape=[len(images)]))
    return request


def parse_grpc_response(response) -> List[Prediction]:
    import tensorflow as tf

    outputs = {name: tf.make_ndarray(response.outputs[name]) for name in (IMAGE_BYTES, HEIGHT, WIDTH)}
    return [Prediction(bytes(png), int(height), int(width))
            for png, height, width in zip(outputs[IMAGE_BYTES], outputs[HEIGHT], outputs[WIDTH])]


def grpc_stub(server: str):
    """A PredictionService stub with no message size cap (upscaled PNGs easily exceed gRPC's 4 MB default)."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    unlimited = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    return prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(server, options=unlimited))


def predict_grpc(stub, request, timeout: float = 300.0) -> List[Prediction]:
    import grpc

    try:
        return parse_grpc_response(stub.Predict(request, timeout=timeout))
    except grpc.RpcError as error:
        raise ServingError(f"{error.code().name}: {error.details()}") from error
