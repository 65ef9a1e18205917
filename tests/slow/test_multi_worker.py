"""Two worker processes on 127.0.0.1 with MultiWorkerMirroredStrategy and a plain TF_CONFIG each."""
import json
import os
import signal
import socket

from srgan_tf.modeling import checkpointing
from srgan_tf.modeling.checkpointing import weights_fingerprint
from tests.training_processes import Training, latest_step, logged


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_cluster(tiny_records, tmp_path, name, *flags):
    """Two workers of one cluster (worker 0 is the chief), each with its own TF_CONFIG and log."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    configs = [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}) for i in range(2)]
    return [Training(tiny_records["train"], tmp_path / "model", tmp_path / f"{name}_{i}.log",
                     "--strategy=multi_worker", "--seed=5", "--steps_per_loop=2", "--log_every=2",
                     "--checkpoint_every=2", *flags, env={"TF_CONFIG": config})
            for i, config in enumerate(configs)]


def finish(workers):
    codes = [worker.wait() for worker in workers]
    return codes, [worker.log() for worker in workers]


def test_two_workers_split_the_data_stop_together_resume_agree_and_only_the_chief_writes(tiny_records,
                                                                                         tmp_path):
    model_dir, export_dir = tmp_path / "model", tmp_path / "export"

    # SIGTERM to the non-chief only: both stop at the same step, the chief having saved it.
    workers = start_cluster(tiny_records, tmp_path, "first", "--train_steps=1000")
    workers[1].wait_until(lambda: latest_step(model_dir) >= 2, "a checkpoint at step 2")
    workers[1].process.send_signal(signal.SIGTERM)
    codes, logs = finish(workers)
    assert codes == [143, 143], "\n\n".join(logs)
    stops = [logged(rf"{cause}: stopped at step (\d+)", log)
             for cause, log in zip(("Another worker was signalled", "SIGTERM received"), logs)]
    assert stops[0] == stops[1] and len(stops[0]) == 1
    stop = int(stops[0][0])
    assert latest_step(model_dir) == stop
    first_chief = workers[0].process.pid

    # Both resume from that checkpoint and finish.
    end = stop + 4
    workers = start_cluster(tiny_records, tmp_path, "second", f"--train_steps={end}", f"--eval_every={end}",
                            f"--export_dir={export_dir}", f"--val_records={tiny_records['val']}",
                            "--num_eval_images=1")
    codes, logs = finish(workers)
    assert codes == [0, 0], "\n\n".join(logs)
    assert all(f"resumed from {model_dir}/ckpt-{stop} at step {stop}" in log for log in logs)

    # Each worker's input pipeline read one of the two shards.
    shards = [logged(rf"Training records, input pipeline {i + 1} of 2: (\S+)\n", log)
              for i, log in enumerate(logs)]
    assert [len(s) for s in shards] == [1, 1] and shards[0] != shards[1]
    assert all(name.endswith(f"train-0000{i}-of-00002.tfrecord") for i, (name,) in enumerate(shards))

    # Both end with the same weights, which are the ones the chief checkpointed.
    fingerprints = [logged(rf"finished at step {end}; generator weights fingerprint (\w+)", log)
                    for log in logs]
    generator, _, step = checkpointing.load_generator(str(model_dir))
    assert step == end == latest_step(model_dir)
    assert fingerprints[0] == fingerprints[1] == [weights_fingerprint(generator.weights)]

    # Only the chief (worker 0) wrote checkpoints, summaries and the export.
    assert logged(r"saved (\S+)", logs[1]) == [] and logged(r"exported", logs[1]) == []
    assert [path.rsplit("/", 1)[1] for path in logged(r"saved (\S+)", logs[0])] == [
        f"ckpt-{s}" for s in range(stop + 2, end + 1, 2)]
    assert not [name for name in os.listdir(model_dir) if "scratch" in name]
    chiefs = {str(first_chief), str(workers[0].process.pid)}
    event_files = {folder: os.listdir(model_dir / folder) for folder in ("train", "eval")}
    # Training summaries from both runs; evaluation only in the second, the first having no --val_records.
    assert {folder: len(names) for folder, names in event_files.items()} == {"train": 2, "eval": 1}
    assert all(name.split(".")[-3] in chiefs for names in event_files.values() for name in names)
    assert os.listdir(export_dir) == [str(end)]


def test_two_workers_train_a_generator_without_batch_norm(tiny_records, tmp_path):
    # RRDBNet has no BatchNorm statistics to average across workers: an empty all-reduce once failed.
    workers = start_cluster(tiny_records, tmp_path, "rrdb", "--train_steps=2", "--generator=rrdb",
                            "--num_residual_blocks=1", "--num_filters=8", "--growth_channels=4")
    codes, logs = finish(workers)
    assert codes == [0, 0], "\n\n".join(logs)
    fingerprints = [logged(r"finished at step 2; generator weights fingerprint (\w+)", log) for log in logs]
    assert fingerprints[0] == fingerprints[1] and len(fingerprints[0]) == 1
