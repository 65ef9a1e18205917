"""The serving client (srgan_tf.serving.client, and the srgan-client command) against TF Serving's
documented REST JSON and gRPC PredictRequest.

TF Serving cannot run here. The round trips use small stand-ins on 127.0.0.1 that speak TF Serving's
documented request/response formats over the exported SavedModel; they are not TF Serving.
"""
import base64
import http.server
import json
import subprocess
import sys
import threading
from concurrent import futures

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from srgan_tf.serving import client
from tests.tiny_models import encode, export_tiny, make_model_dir


def test_rest_request_is_tf_serving_row_format():
    documented = json.loads("""{
      "signature_name": "serving_default",
      "instances": [{"image_bytes": {"b64": "aW1hZ2UgYnl0ZXM="}}]
    }""")
    assert client.rest_request([b"image bytes"]) == documented


def test_rest_response_with_bytes_and_number_outputs_is_parsed():
    documented = json.loads("""{
      "predictions": [
        {"image_bytes": {"b64": "aW1hZ2UgYnl0ZXM="}, "height": 8, "width": 6},
        {"image_bytes": {"b64": "bW9yZQ=="}, "height": 4, "width": 2}
      ]
    }""")
    assert client.parse_rest_response(documented) == [
        client.Prediction(b"image bytes", 8, 6), client.Prediction(b"more", 4, 2)]
    with pytest.raises(client.ServingError, match="Could not decode"):
        client.parse_rest_response({"error": "Could not decode image"})
    with pytest.raises(client.ServingError, match="unexpected response"):
        client.parse_rest_response({"outputs": {}})


def test_rest_url():
    assert client.rest_url("127.0.0.1:8501", "srgan") == "http://127.0.0.1:8501/v1/models/srgan:predict"
    assert client.rest_url("127.0.0.1:8501", "srgan", 7) == (
        "http://127.0.0.1:8501/v1/models/srgan/versions/7:predict")


def test_grpc_request_carries_the_images_as_a_string_batch():
    request = client.grpc_request([b"first", b"second"], "srgan", version=7)
    assert request.model_spec.name == "srgan" and request.model_spec.version.value == 7
    assert request.model_spec.signature_name == "serving_default"
    tensor = request.inputs["image_bytes"]
    assert tensor.dtype == tf.string.as_datatype_enum
    assert [dim.size for dim in tensor.tensor_shape.dim] == [2]
    assert tf.make_ndarray(tensor).tolist() == [b"first", b"second"]
    assert not client.grpc_request([b"x"], "srgan").model_spec.HasField("version")


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """The exported `serving_default` signature, called as TF Serving would call it."""
    generator = make_model_dir(str(tmp_path_factory.mktemp("model")))
    loaded = tf.saved_model.load(export_tiny(generator, str(tmp_path_factory.mktemp("exports"))))

    def run(images):
        return loaded.signatures["serving_default"](image_bytes=tf.constant(images, tf.string))

    return run


class RestStandIn(http.server.BaseHTTPRequestHandler):
    """Answers `:predict` in TF Serving's documented JSON: `{"predictions": [...]}` or `{"error": ...}`."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.paths.append(self.path)
        try:
            images = [base64.b64decode(instance["image_bytes"]["b64"]) for instance in body["instances"]]
            outputs = self.server.serve(images)
        except tf.errors.InvalidArgumentError as error:
            return self._reply(400, {"error": error.message})
        rows = zip(*(outputs[name].numpy() for name in ("image_bytes", "height", "width")))
        self._reply(200, {"predictions": [{"image_bytes": {"b64": base64.b64encode(png).decode()},
                                           "height": int(height), "width": int(width)}
                                          for png, height, width in rows]})

    def _reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def rest_server(serve):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RestStandIn)
    server.serve, server.paths = serve, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_rest_round_trip_and_error(rest_server, make_image):
    url = client.rest_url(f"127.0.0.1:{rest_server.server_port}", "srgan", 7)
    (prediction,) = client.predict_rest(url, [encode(make_image(6, 9))])
    assert (prediction.height, prediction.width) == (12, 18)
    assert tf.io.decode_png(prediction.png).shape == (12, 18, 3)
    assert rest_server.paths == ["/v1/models/srgan/versions/7:predict"]
    with pytest.raises(client.ServingError, match=r"(?s)HTTP 400 .*image_bytes\[0\] is not a PNG, JPEG"):
        client.predict_rest(url, [b"plain text"])


def test_command_line_writes_results_and_reports_latency(rest_server, tmp_path, make_image):
    for name, size in (("a.png", (5, 7)), ("b.jpg", (8, 4))):
        (tmp_path / name).write_bytes(encode(make_image(*size), "JPEG" if name.endswith("jpg") else "PNG"))
    command = [sys.executable, "-m", "srgan_tf.client", f"--output_dir={tmp_path / 'out'}",
               f"--server=127.0.0.1:{rest_server.server_port}", str(tmp_path / "a.png"),
               str(tmp_path / "b.jpg")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(" ms -> " in line for line in lines)
    assert "a.png: " in lines[0] and lines[0].endswith("a_sr.png (14x10)")
    assert tf.io.decode_png((tmp_path / "out" / "b_sr.png").read_bytes()).shape == (16, 8, 3)


class GrpcStandIn(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Runs a PredictRequest's tensors through the SavedModel and answers with a PredictResponse."""

    def __init__(self, serve):
        self.serve, self.requests = serve, []

    def Predict(self, request, context):
        self.requests.append(request)
        try:
            outputs = self.serve(list(tf.make_ndarray(request.inputs["image_bytes"])))
        except tf.errors.InvalidArgumentError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, error.message)
        response = predict_pb2.PredictResponse(model_spec=request.model_spec)
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response


def test_grpc_round_trip_and_error(serve, make_image):
    stand_in = GrpcStandIn(serve)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(stand_in, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        stub = client.grpc_stub(f"127.0.0.1:{port}")
        images = [encode(make_image(6, 9)), encode(make_image(3, 5), "BMP")]
        predictions = client.predict_grpc(stub, client.grpc_request(images, "srgan"))
        assert [(p.height, p.width) for p in predictions] == [(12, 18), (6, 10)]
        assert np.array_equal(tf.io.decode_png(predictions[1].png).shape, (6, 10, 3))
        assert stand_in.requests[0].model_spec.name == "srgan"
        with pytest.raises(client.ServingError, match=r"(?s)INVALID_ARGUMENT: .*image_bytes\[0\] is empty"):
            client.predict_grpc(stub, client.grpc_request([b""], "srgan"))
    finally:
        server.stop(None)
