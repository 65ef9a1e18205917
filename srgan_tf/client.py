"""Sends images to a TF Serving model over REST or gRPC and writes the upscaled PNGs.

    srgan-client --server=127.0.0.1:8501 --model_name=srgan photo.jpg holiday/
    srgan-client --protocol=grpc --server=127.0.0.1:8500 --model_name=srgan photo.jpg

One request per image to the `serving_default` signature (the file's bytes: PNG, JPEG, BMP or GIF);
each result goes to `<output_dir>/<name>_sr.png` and its latency is printed. The requests and responses
are `srgan_tf.serving.client`'s. The REST path needs only the standard library.
"""
from __future__ import annotations

import sys
import time
from typing import List

from absl import app, flags

from srgan_tf.common import commands
from srgan_tf.common.files import write_bytes_atomic
from srgan_tf.common.image_files import find_images, plan_outputs
from srgan_tf.serving.client import (Prediction, ServingError, grpc_request, grpc_stub, predict_grpc,
                                     predict_rest, rest_url)


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
        commands.quiet_tensorflow()  # gRPC's tensor protos are TensorFlow's
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


def run() -> None:
    """The `srgan-client` command (`python -m srgan_tf.client`)."""
    _define_flags()
    commands.run(main)


if __name__ == "__main__":
    run()
