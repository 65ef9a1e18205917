"""tf.data input pipelines: random training patches with their LR (bicubic, or Real-ESRGAN's degradation),
and whole images for evaluation.

Training cuts `crops_per_image` patches from every decoded image (decoding a 2040x1400 photograph took about
20 ms as JPEG and 100 ms as PNG on a 2-core CPU, cutting a patch about 0.2 ms) and shuffles patches, not
records, so crops of one image spread over many batches: keep `shuffle_buffer` well above
`crops_per_image` (16 times is comfortable). With `DataConfig.seed` set, every random choice (file order,
shrink factors, crops, symmetries, shuffling, degradations) is seeded and every stage keeps its order, so two
runs see the same batches.
"""
from __future__ import annotations

import dataclasses
import functools
import os
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from srgan_tf.common import console, imaging
from srgan_tf.config import DataConfig, DegradationConfig
from srgan_tf.data import schema
from srgan_tf.registry import DEGRADATIONS

AUTOTUNE = tf.data.AUTOTUNE
FILES_READ_AT_ONCE = 8  # shards each input pipeline interleaves
FILES_NAMED = 4  # shards named in the log line saying what a pipeline reads
_SIZE_FEATURES = {name: schema.FEATURES[name] for name in ("image/height", "image/width")}


def list_record_files(patterns: str) -> List[str]:
    """Sorted, de-duplicated files matching a comma-separated list of globs (local paths or gs://...)."""
    globs = [p.strip() for p in patterns.split(",") if p.strip()]
    return sorted({path for pattern in globs for path in tf.io.gfile.glob(pattern)})


class CorruptRecordsError(ValueError):
    """A TFRecord shard that can't be read to its end: truncated, or failing its checksums."""


@dataclasses.dataclass(frozen=True)
class ImageCount:
    """The images in some shards, how many are too small for a patch, and the corrupt shards skipped."""

    total: int
    smaller: int
    corrupt: Dict[str, str] = dataclasses.field(default_factory=dict)  # shard -> what is wrong, what is kept


def _file_dataset(files: List[str]) -> tf.data.Dataset:
    """(path, compression) pairs: each shard is read with the compression its name implies."""
    return tf.data.Dataset.from_tensor_slices((files, [schema.compression_of(f) for f in files]))


def _file_reader(skip_corrupt: bool) -> Callable[[tf.Tensor, tf.Tensor], tf.data.Dataset]:
    """Reads a shard; with `skip_corrupt`, up to its first unreadable record, which ends it without error."""
    def read(path: tf.Tensor, compression: tf.Tensor) -> tf.data.Dataset:
        shard = tf.data.TFRecordDataset(path, compression_type=compression)
        return shard.ignore_errors(log_warning=True) if skip_corrupt else shard

    return read


def _records_in_order(files: List[str], skip_corrupt: bool = False) -> tf.data.Dataset:
    return _file_dataset(files).flat_map(_file_reader(skip_corrupt))


def _at_least(size: int) -> Callable[[dict], tf.Tensor]:
    """A filter keeping examples whose height and width are both >= `size` (decided before decoding)."""
    return lambda features: (features["image/height"] >= size) & (features["image/width"] >= size)


def _count_sizes(serialized_records: tf.data.Dataset, size: int) -> Tuple[int, int]:
    """(records, records smaller than size x size), reading only the size features."""
    def count(serialized):
        sizes = tf.io.parse_example(serialized, _SIZE_FEATURES)
        small = (sizes["image/height"] < size) | (sizes["image/width"] < size)
        return tf.stack([tf.size(small, out_type=tf.int64), tf.reduce_sum(tf.cast(small, tf.int64))])

    counts = (serialized_records.batch(1024).map(count, AUTOTUNE)
              .reduce(tf.zeros([2], tf.int64), lambda total, batch: total + batch))
    total, small = counts.numpy().tolist()
    return total, small


def count_images(files: List[str], size: int, skip_corrupt: bool = False) -> ImageCount:
    """Reads every record of `files` once (sizes only), so a corrupt shard shows before training starts.

    A corrupt shard raises CorruptRecordsError naming it, or with `skip_corrupt` is cut at its first
    unreadable record (records past it can't be located) and reported in `corrupt`.
    """
    try:
        return ImageCount(*_count_sizes(_records_in_order(files), size))
    except tf.errors.DataLossError:
        pass  # one pass over all shards can't say which one: read them one by one
    total = smaller = 0
    corrupt = {}
    for path in files:
        shard = tf.data.TFRecordDataset(path, compression_type=schema.compression_of(path))
        try:
            counts = _count_sizes(shard, size)
        except tf.errors.DataLossError as error:
            if not skip_corrupt:
                raise CorruptRecordsError(
                    f"TFRecord shard {path} is corrupt ({console.describe_error(error)}): rewrite it, or pass "
                    f"--skip_corrupt_records to use its records before the damage and skip the rest."
                ) from error
            counts = _count_sizes(shard.ignore_errors(), size)
            corrupt[path] = f"{console.describe_error(error)}; the {counts[0]} record(s) before it are used"
        total, smaller = total + counts[0], smaller + counts[1]
    return ImageCount(total, smaller, corrupt)


def _pipeline_seeds(seed: Optional[int], pipeline_id: int, resume_step: int) -> Tuple[Optional[int], ...]:
    """Independent seeds for file order, crops, patch shuffling and degradations; distinct per input pipeline
    and for each step a run resumes at, so a resumed run does not see its first batches again."""
    if seed is None:
        return None, None, None, None
    return tuple(int(s) for s in np.random.SeedSequence([seed, pipeline_id, resume_step]).generate_state(4))


def _square_symmetry(patch: tf.Tensor, index: int) -> tf.Tensor:
    """The `index`-th (0..7) of the 8 symmetries of a square `[size, size, C]` patch: its bits choose a
    vertical flip, a horizontal flip and a transposition, which compose to every flip and 90-degree turn."""
    if index & 1:
        patch = tf.reverse(patch, axis=[0])
    if index & 2:
        patch = tf.reverse(patch, axis=[1])
    if index & 4:
        patch = tf.transpose(patch, [1, 0, 2])
    return patch


def random_patches(image: tf.Tensor, size: int, count: int, seed: tf.Tensor) -> tf.Tensor:
    """`count` random `size` x `size` crops of `image` [H, W, 3] (H, W >= size), each under a random symmetry.

    Crops are cut and turned one at a time: flipping or transposing a whole stack of uint8 patches and
    selecting with `tf.where` cost about 1 ms per patch on a 2-core CPU, more than all the other work.
    """
    shape = tf.shape(image)
    top_seed, left_seed, symmetry_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))

    def uniform(uniform_seed: tf.Tensor, limit) -> tf.Tensor:  # `count` integers in [0, limit)
        return tf.random.stateless_uniform([count], uniform_seed, minval=0, maxval=limit, dtype=tf.int32)

    top = uniform(top_seed, shape[0] - size + 1)
    left = uniform(left_seed, shape[1] - size + 1)
    symmetry = uniform(symmetry_seed, 8)

    def patch(choice: tf.Tensor) -> tf.Tensor:
        crop = tf.slice(image, [choice[0], choice[1], 0], [size, size, 3])
        return tf.switch_case(choice[2], [functools.partial(_square_symmetry, crop, i) for i in range(8)])

    return tf.map_fn(patch, tf.stack([top, left, symmetry], axis=1),
                     fn_output_signature=tf.TensorSpec([size, size, 3], image.dtype))


def random_shrink(image: tf.Tensor, min_scale: float, size: int, seed: tf.Tensor) -> tf.Tensor:
    """`image` [H, W, 3] uint8 shrunk by a random factor in [min_scale, 1], antialiased bicubic, never below
    `size` on its shorter side (an image already at `size` is kept as it is)."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    lowest = tf.maximum(tf.constant(min_scale, tf.float32), size / tf.reduce_min(shape))
    factor = tf.random.stateless_uniform([], seed, minval=tf.minimum(lowest, 1.0), maxval=1.0)
    new_shape = tf.maximum(tf.cast(tf.round(shape * factor), tf.int32), size)
    shrunk = tf.image.resize(tf.cast(image, tf.float32), new_shape, "bicubic", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(shrunk), 0.0, 255.0), tf.uint8)


def _shard_for_pipeline(files: List[str], context: tf.distribute.InputContext) -> Tuple[List[str], bool]:
    """This pipeline's files, and whether examples must be sharded instead (fewer files than pipelines)."""
    if len(files) >= context.num_input_pipelines:
        return files[context.input_pipeline_id::context.num_input_pipelines], False
    return files, True


def _name_files(files: List[str]) -> str:
    """A short line's worth: one file by its path; several in one folder by the folder, then the first
    `FILES_NAMED` names."""
    if len(files) == 1:
        return files[0]
    folders = {os.path.dirname(path) for path in files}
    more = ", ..." if len(files) > FILES_NAMED else ""
    if len(folders) > 1:
        return f"{len(files)} shards: {files[0]}, ..."
    names = ", ".join(os.path.basename(path) for path in files[:FILES_NAMED])
    return f"{len(files)} shards in {folders.pop()}: {names}{more}"


def _check_usable(files: List[str], patch: int, context: tf.distribute.InputContext, shard_examples: bool,
                  skip_corrupt: bool):
    """Logs the shards read and how many images are too small for a patch or lost to corruption; fails
    rather than let a pipeline wait forever for a usable image."""
    count = count_images(files, patch, skip_corrupt)
    pipeline = f"input pipeline {context.input_pipeline_id + 1} of {context.num_input_pipelines}"
    logging.info("Training records, %s: %s", pipeline, _name_files(files))
    logging.log(logging.WARNING if count.smaller else logging.INFO,
                "Training records (%s): %d of %d images are smaller than the %dx%d patch and are skipped.",
                pipeline, count.smaller, count.total, patch, patch)
    for path, what in count.corrupt.items():
        logging.warning("Corrupt shard skipped from its first bad record (--skip_corrupt_records): %s: %s",
                        path, what)
    if count.corrupt:
        logging.warning("Training records (%s): %d of %d shards are corrupt.", pipeline, len(count.corrupt),
                        len(files))
    usable = count.total - count.smaller
    needed = context.num_input_pipelines if shard_examples else 1
    if usable < needed:
        raise ValueError(f"--train_records: {pipeline} needs at least {needed} image(s) of at least "
                         f"{patch}x{patch} pixels, but its {len(files)} file(s) ({files[0]}, ...) hold "
                         f"{usable} (of {count.total}).")


def train_dataset_fn(config: DataConfig, scale: int, seed: Optional[int] = None, resume_step: int = 0,
                     degradations: DegradationConfig = DegradationConfig(),
                     ) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
    """A dataset function for `strategy.distribute_datasets_from_function` (or call it with InputContext()).

    Each input pipeline reads its own shards (or, with fewer shards than pipelines, every n-th example) and
    yields endless per-replica batches (lr [b, p/s, p/s, 3], hr [b, p, p, 3]), float32 in [0, 1], where
    p = config.hr_patch_size, s = scale and lr is what `degradations.degradation` makes of hr (bicubic
    downscaling by default; a seeded degradation draws for each patch from a seed of its own, so the same
    patch gets the same LR however batches are split over replicas); lr is rounded to 8 bits like evaluation
    and serving LR unless `config.quantize_lr` is off. `seed` (None: nondeterministic) fixes file order,
    crops, shuffling and degradations; `resume_step` (the step a run resumes at) is mixed into it, so a seeded
    run that resumes does not repeat the batches it started with.
    """
    if config.data_service and seed is not None:
        raise ValueError(f"--data_service={config.data_service} needs an unseeded input pipeline: a seeded one "
                         f"makes the same batches on every tf.data worker.")
    if config.hr_patch_size % scale:
        raise ValueError(f"--hr_patch_size={config.hr_patch_size} must be a multiple of --scale={scale}.")
    files = list_record_files(config.train_records)
    if not files:
        raise FileNotFoundError(f"--train_records={config.train_records!r} matches no files.")
    patch, crops, lr_patch = config.hr_patch_size, config.crops_per_image, config.hr_patch_size // scale
    degradation = DEGRADATIONS[degradations.degradation]
    degradation.check_patch_size(degradations, patch, scale)

    def with_lr(hr_patches: tf.Tensor, seed: Optional[tf.Tensor] = None) -> Tuple[tf.Tensor, tf.Tensor]:
        """A batch of patches, or one patch with its seed, and their LR."""
        lr, hr = degradation.training_pair(imaging.to_float(hr_patches), seed, degradations, scale)
        if config.quantize_lr:
            lr = imaging.quantize(lr)
        lr.set_shape(hr.shape[:-3].concatenate([lr_patch, lr_patch, 3]))
        return lr, hr

    def decoded(features: dict, seed: tf.Tensor) -> tf.Tensor:
        """An example's image, shrunk at random with --min_image_scale (from a seed of its own)."""
        image = imaging.decode_rgb(features["image/encoded"])
        if config.min_image_scale == 1.0:
            return image
        return random_shrink(image, config.min_image_scale, patch,
                             tf.random.experimental.stateless_fold_in(seed, 1))

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch_size = context.get_per_replica_batch_size(config.batch_size)
        my_files, shard_examples = _shard_for_pipeline(files, context)
        _check_usable(my_files, patch, context, shard_examples, config.skip_corrupt_records)
        logging.info("Training LR: %s at x%d", degradations.degradation, scale)
        files_seed, crops_seed, shuffle_seed, degrade_seed = _pipeline_seeds(seed, context.input_pipeline_id,
                                                                             resume_step)
        # Sharding examples needs the same record order in every pipeline; a seed asks for it everywhere.
        ordered = shard_examples or seed is not None

        shards = _file_dataset(my_files)
        if not shard_examples:
            shards = shards.shuffle(len(my_files), seed=files_seed, reshuffle_each_iteration=True)
        examples = (shards.repeat()
                    .interleave(_file_reader(config.skip_corrupt_records),
                                cycle_length=min(len(my_files), FILES_READ_AT_ONCE),
                                num_parallel_calls=AUTOTUNE, deterministic=ordered)
                    .map(schema.parse_example, num_parallel_calls=AUTOTUNE, deterministic=ordered)
                    .filter(_at_least(patch)))
        if shard_examples:
            examples = examples.shard(context.num_input_pipelines, context.input_pipeline_id)
        crop_seeds = tf.data.Dataset.random(seed=crops_seed).batch(2, drop_remainder=True)
        patches = (tf.data.Dataset.zip((examples, crop_seeds))
                   .map(lambda features, seed: random_patches(decoded(features, seed), patch, crops, seed),
                        num_parallel_calls=AUTOTUNE, deterministic=ordered)
                   .unbatch()
                   .shuffle(config.shuffle_buffer, seed=shuffle_seed))
        if degradation.seeded:
            degrade_seeds = tf.data.Dataset.random(seed=degrade_seed).batch(2, drop_remainder=True)
            batches = (tf.data.Dataset.zip((patches, degrade_seeds))
                       .map(with_lr, num_parallel_calls=AUTOTUNE, deterministic=ordered)
                       .batch(batch_size, drop_remainder=True))
        else:
            batches = (patches.batch(batch_size, drop_remainder=True)
                       .map(with_lr, num_parallel_calls=AUTOTUNE, deterministic=ordered))
        if config.data_service:
            batches = _on_data_service(batches, config.data_service, context)
        return batches.prefetch(AUTOTUNE)

    return dataset_fn


def _on_data_service(batches: tf.data.Dataset, dispatcher: str,
                     context: tf.distribute.InputContext) -> tf.data.Dataset:
    """Makes `batches` on the tf.data service's workers instead of this process: one job per input
    pipeline, which every tf.data worker runs in full (its shards, its own random crops: the pipeline
    must be unseeded), so adding workers adds throughput. The workers must read the --train_records paths."""
    return batches.apply(tf.data.experimental.service.distribute(
        processing_mode=tf.data.experimental.service.ShardingPolicy.OFF, service=dispatcher,
        job_name=f"srgan_tf_input_pipeline_{context.input_pipeline_id}"))


def eval_dataset(pattern: str, scale: int, max_images: Optional[int] = None,
                 skip_corrupt: bool = False) -> tf.data.Dataset:
    """Whole images in file order, batch 1: dict(key [1], hr [1, H, W, 3], lr [1, H/s, W/s, 3]), float32.

    hr is mod-cropped to a multiple of `scale`; lr = quantize(bicubic_downscale(hr)), rounded to 8 bits like
    an LR image read from disk. Images smaller than `scale` pixels are left out. Shards are checked for
    corruption now, not at the first evaluation hours into training.
    """
    files = list_record_files(pattern)
    if not files:
        raise FileNotFoundError(f"No evaluation records match {pattern!r}.")
    for path, what in count_images(files, scale, skip_corrupt).corrupt.items():
        logging.warning("Corrupt evaluation shard skipped from its first bad record: %s: %s", path, what)

    def pair(features: dict) -> dict:
        hr = imaging.mod_crop(imaging.to_float(imaging.decode_rgb(features["image/encoded"])), scale)
        return {"key": features["image/key"], "hr": hr,
                "lr": imaging.quantize(imaging.bicubic_downscale(hr, scale))}

    images = _records_in_order(files, skip_corrupt).map(schema.parse_example).filter(_at_least(scale))
    if max_images is not None:
        images = images.take(max_images)
    return images.map(pair, num_parallel_calls=AUTOTUNE).batch(1).prefetch(AUTOTUNE)
