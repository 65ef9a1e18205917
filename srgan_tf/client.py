"""Sends images to a TF Serving model over REST or gRPC and writes the upscaled PNGs.

    srgan-client --server=127.0.0.1:8501 --model_name=srgan photo.jpg holiday/
    srgan-client --protocol=grpc --server=127.0.0.1:8500 --model_name=srgan photo.jpg

One request per image to the `serving_default` signature (input `image_bytes`: the file's bytes, PNG,
JPEG, BMP or GIF); each result goes to `<output_dir>/<name>_sr.png` and its latency is printed.
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
import sys
import time
import urllib.error
import urllib.request
from typing import List, Optional, Sequence

from absl import app, flags

from srgan_tf.common.files import write_bytes_atomic
from srgan_tf.common.image_files import find_images, plan_outputs

SIGNATURE = "serving_default"
INPUT = "image_bytes"


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


def rest_request(images: Sequence[bytes], signature_name: str = SIGNATURE) -> dict:
    """TF Serving's row ("instances") format; binary inputs go as `{"b64": ...}`."""
    return {"signature_name": signature_name,
            "instances": [{INPUT: {"b64": base64.b64encode(image).decode("ascii")}} for image in images]}


def parse_rest_response(body: dict) -> List[Prediction]:
    if "error" in body:
        raise ServingError(body["error"])
    try:
        return [Prediction(base64.b64decode(row["image_bytes"]["b64"]), int(row["height"]), int(row["width"]))
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
                 signature_name: str = SIGNATURE):
    """A `PredictRequest` carrying the encoded images as a DT_STRING `[N]` tensor."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    request.inputs[INPUT].CopyFrom(tf.make_tensor_proto(list(images), dtype=tf.string, shape=[len(images)]))
    return request


def parse_grpc_response(response) -> List[Prediction]:
    import tensorflow as tf

    outputs = {name: tf.make_ndarray(response.outputs[name]) for name in ("image_bytes", "height", "width")}
    return [Prediction(bytes(png), int(height), int(width))
            for png, height, width in zip(outputs["image_bytes"], outputs["height"], outputs["width"])]


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


def main(argv):
    f = flags.FLAGS
    if len(argv) < 2:
        raise app.UsageError("Name the image files or folders to send.")
    try:
        outputs = plan_outputs(find_images(argv[1:]), f.output_dir, overwrite=f.overwrite)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if f.protocol == "rest":
        url = rest_url(f.server, f.model_name, f.model_version)

        def send(image: bytes) -> List[Prediction]:
            return predict_rest(url, [image], f.timeout)
    else:
        stub = grpc_stub(f.server)

        def send(image: bytes) -> List[Prediction]:
            return predict_grpc(stub, grpc_request([image], f.model_name, f.model_version), f.timeout)

    failures = 0
    for image_path, output_path in outputs.items():
        with open(image_path, "rb") as file:
            image = file.read()
        start = time.perf_counter()
        try:
            (prediction,) = send(image)
        except ServingError as error:
            failures += 1
            print(f"{image_path}: FAILED after {1000 * (time.perf_counter() - start):.1f} ms: {error}",
                  file=sys.stderr)
            continue
        latency_ms = 1000 * (time.perf_counter() - start)
        write_bytes_atomic(output_path, prediction.png)
        print(f"{image_path}: {latency_ms:.1f} ms -> {output_path} ({prediction.width}x{prediction.height})")
    return 1 if failures else 0


def _define_flags() -> None:
    flags.DEFINE_enum("protocol", "rest", ["rest", "grpc"], "REST (port 8501 by default) or gRPC (8500).")
    flags.DEFINE_string("server", "127.0.0.1:8501", "HOST:PORT of the model server.")
    flags.DEFINE_string("model_name", "srgan", "The served model's name (TF Serving's --model_name).")
    flags.DEFINE_integer("model_version", None, "A specific version; default: the latest the server has.")
    flags.DEFINE_string("output_dir", "upscaled", "Where to write <name>_sr.png for each input.")
    flags.DEFINE_bool("overwrite", False, "Replace existing output files.")
    flags.DEFINE_float("timeout", 300.0, "Seconds to wait for each response.")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
