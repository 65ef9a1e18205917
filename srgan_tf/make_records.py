"""Builds sharded TFRecords and per-split JSON manifests from a folder of images, CelebA, DIV2K or samples.

  srgan-make-records --source=div2k --input_dir=/data/DIV2K --output_dir=/data/div2k_records
  srgan-make-records --source=samples --output_dir=/tmp/sample_records

Writes `{split}-00000-of-000NN.tfrecord` shards (`.tfrecord.gz` with --gzip) and `{split}.json` per split.
"""
import os
import signal
import sys
import time

from absl import flags

from srgan_tf.common import commands
from srgan_tf.data.sources import SOURCES, SourceError

FLAGS = flags.FLAGS


def _exit(signum, frame):
    raise SystemExit(128 + signum)


def main(argv):
    del argv
    signal.signal(signal.SIGTERM, _exit)  # `kill` then also removes temporary shards and stops the workers
    # Imported here, not at the top: worker processes are spawned and re-import this module, and they
    # should not each load TensorFlow, which the writer needs.
    commands.quiet_tensorflow()
    from srgan_tf.data.writer import write_records

    start = time.monotonic()
    try:
        manifests = write_records(FLAGS.source, FLAGS.input_dir, FLAGS.output_dir,
                                  num_shards=FLAGS.num_shards, num_workers=FLAGS.num_workers,
                                  min_size=FLAGS.min_size, gzip=FLAGS.gzip)
    except SourceError as error:
        sys.exit(f"srgan-make-records: {error}")
    parts = [f"{m['split']} {m['num_examples']} images in {len(m['shards'])} shards "
             f"({m['num_skipped']} skipped)" for m in manifests.values()]
    print(f"Wrote {'; '.join(parts)} to {FLAGS.output_dir} in {time.monotonic() - start:.1f} s.")


def _define_flags() -> None:
    """Called by `run()`: importing this module (as each worker process does) defines no flags."""
    flags.DEFINE_enum("source", "folder", sorted(SOURCES),
                      "folder: any folder of images, searched recursively (all train); celeba: "
                      "img_align_celeba/ and list_eval_partition.txt; div2k: DIV2K_train_HR/ and "
                      "DIV2K_valid_HR/; samples: the photographs shipped with scikit-image (needs pip install "
                      "'.[samples]').")
    flags.DEFINE_string("input_dir", "", "The source's folder (not used by --source=samples).")
    flags.DEFINE_string("output_dir", None,
                        "Where shards and manifests go; a split already there is replaced.")
    flags.DEFINE_integer("num_shards", 16, "Shards per split (fewer if the split has fewer images).",
                         lower_bound=1)
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Processes reading and checking images.",
                         lower_bound=1)
    flags.DEFINE_integer("min_size", 96, "Images whose shorter side is below this many pixels are skipped.",
                         lower_bound=0)
    flags.DEFINE_bool("gzip", False, "Write GZIP-compressed shards (.tfrecord.gz).")
    flags.mark_flag_as_required("output_dir")


def run() -> None:
    """The `srgan-make-records` command (`python -m srgan_tf.make_records`)."""
    _define_flags()
    commands.run(main)


if __name__ == "__main__":
    run()
