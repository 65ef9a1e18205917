"""tf.data input pipelines: random training patches with their bicubic LR, and whole images for evaluation.

Training cuts `crops_per_image` patches from every decoded image (decoding a 2040x1400 photograph took about
20 ms as JPEG and 100 ms as PNG on a 2-core CPU, cutting a patch about 0.2 ms) and shuffles patches, not
records, so crops of one image spread over many batches: keep `shuffle_buffer` well above
`crops_per_image` (16 times is comfortable). With `DataConfig.seed` set, every random choice (file order,
crops, symmetries, shuffling) is seeded and every stage keeps its order, so two runs see the same batches.
"""
from __future__ import annotations

import functools
from typing import Callable, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from srgan_tf import imaging, records
from srgan_tf.config import DataConfig

AUTOTUNE = tf.data.AUTOTUNE
FILES_READ_AT_ONCE = 8  # shards each input pipeline interleaves
_SIZE_FEATURES = {name: records.FEATURES[name] for name in ("image/height", "image/width")}


def list_record_files(patterns: str) -> List[str]:
    """Sorted, de-duplicated files matching a comma-separated list of globs (local paths or gs://...)."""
    globs = [p.strip() for p in patterns.split(",") if p.strip()]
    return sorted({path for pattern in globs for path in tf.io.gfile.glob(pattern)})


def _file_dataset(files: List[str]) -> tf.data.Dataset:
    """(path, compression) pairs: each shard is read with the compression its name implies."""
    return tf.data.Dataset.from_tensor_slices((files, [records.compression_of(f) for f in files]))


def _read_file(path: tf.Tensor, compression: tf.Tensor) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(path, compression_type=compression)


def _records_in_order(files: List[str]) -> tf.data.Dataset:
    return _file_dataset(files).flat_map(_read_file)


def _at_least(size: int) -> Callable[[dict], tf.Tensor]:
    """A filter keeping examples whose height and width are both >= `size` (decided before decoding)."""
    return lambda features: (features["image/height"] >= size) & (features["image/width"] >= size)


def count_smaller_than(files: List[str], size: int) -> Tuple[int, int]:
    """(images smaller than size x size, all images) in `files`, reading only the size features."""
    def count(sizes):
        small = (sizes["image/height"] < size) | (sizes["image/width"] < size)
        return tf.stack([tf.reduce_sum(tf.cast(small, tf.int64)), tf.size(small, out_type=tf.int64)])

    counts = (_records_in_order(files).batch(1024)
              .map(lambda serialized: count(tf.io.parse_example(serialized, _SIZE_FEATURES)), AUTOTUNE)
              .reduce(tf.zeros([2], tf.int64), lambda total, batch: total + batch))
    small, total = counts.numpy().tolist()
    return small, total


def _pipeline_seeds(seed: Optional[int], pipeline_id: int) -> Tuple[Optional[int], ...]:
    """Independent seeds for file order, crops and patch shuffling; distinct per input pipeline."""
    if seed is None:
        return None, None, None
    return tuple(int(s) for s in np.random.SeedSequence([seed, pipeline_id]).generate_state(3))


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


def _shard_for_pipeline(files: List[str], context: tf.distribute.InputContext) -> Tuple[List[str], bool]:
    """This pipeline's files, and whether examples must be sharded instead (fewer files than pipelines)."""
    if len(files) >= context.num_input_pipelines:
        return files[context.input_pipeline_id::context.num_input_pipelines], False
    return files, True


def _check_usable(files: List[str], patch: int, context: tf.distribute.InputContext, shard_examples: bool):
    """Logs how many images are too small for a patch; fails rather than let a pipeline wait forever."""
    small, total = count_smaller_than(files, patch)
    pipeline = f"input pipeline {context.input_pipeline_id + 1} of {context.num_input_pipelines}"
    logging.log(logging.WARNING if small else logging.INFO,
                "Training records (%s, %d files): %d of %d images are smaller than the %dx%d patch and are "
                "skipped.",
                pipeline, len(files), small, total, patch, patch)
    needed = context.num_input_pipelines if shard_examples else 1
    if total - small < needed:
        raise ValueError(f"--train_records: {pipeline} needs at least {needed} image(s) of at least "
                         f"{patch}x{patch} pixels, but its {len(files)} file(s) ({files[0]}, ...) hold "
                         f"{total - small} (of {total}).")


def train_dataset_fn(config: DataConfig) -> Callable[[tf.distribute.InputContext], tf.data.Dataset]:
    """A dataset function for `strategy.distribute_datasets_from_function` (or call it with InputContext()).

    Each input pipeline reads its own shards (or, with fewer shards than pipelines, every n-th example) and
    yields endless per-replica batches (lr [b, p/s, p/s, 3], hr [b, p, p, 3]), float32 in [0, 1], where
    lr = bicubic_downscale(hr) and p = config.hr_patch_size.
    """
    files = list_record_files(config.train_records)
    if not files:
        raise FileNotFoundError(f"--train_records={config.train_records!r} matches no files.")
    patch, scale, crops = config.hr_patch_size, config.scale, config.crops_per_image

    def with_lr(hr_patches: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        hr = imaging.to_float(hr_patches)
        lr = imaging.bicubic_downscale(hr, scale)
        lr.set_shape([hr.shape[0], config.lr_patch_size, config.lr_patch_size, 3])
        return lr, hr

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch_size = context.get_per_replica_batch_size(config.batch_size)
        my_files, shard_examples = _shard_for_pipeline(files, context)
        _check_usable(my_files, patch, context, shard_examples)
        files_seed, crops_seed, shuffle_seed = _pipeline_seeds(config.seed, context.input_pipeline_id)
        # Sharding examples needs the same record order in every pipeline; a seed asks for it everywhere.
        ordered = shard_examples or config.seed is not None

        shards = _file_dataset(my_files)
        if not shard_examples:
            shards = shards.shuffle(len(my_files), seed=files_seed, reshuffle_each_iteration=True)
        examples = (shards.repeat()
                    .interleave(_read_file, cycle_length=min(len(my_files), FILES_READ_AT_ONCE),
                                num_parallel_calls=AUTOTUNE, deterministic=ordered)
                    .map(records.parse_example, num_parallel_calls=AUTOTUNE, deterministic=ordered)
                    .filter(_at_least(patch)))
        if shard_examples:
            examples = examples.shard(context.num_input_pipelines, context.input_pipeline_id)
        crop_seeds = tf.data.Dataset.random(seed=crops_seed).batch(2, drop_remainder=True)
        return (tf.data.Dataset.zip((examples, crop_seeds))
                .map(lambda features, seed: random_patches(imaging.decode_rgb(features["image/encoded"]),
                                                           patch, crops, seed),
                     num_parallel_calls=AUTOTUNE, deterministic=ordered)
                .unbatch()
                .shuffle(config.shuffle_buffer, seed=shuffle_seed)
                .batch(batch_size, drop_remainder=True)
                .map(with_lr, num_parallel_calls=AUTOTUNE, deterministic=ordered)
                .prefetch(AUTOTUNE))

    return dataset_fn


def eval_dataset(pattern: str, scale: int, max_images: Optional[int] = None) -> tf.data.Dataset:
    """Whole images in file order, batch 1: dict(key [1], hr [1, H, W, 3], lr [1, H/s, W/s, 3]), float32.

    hr is mod-cropped to a multiple of `scale`; lr = quantize(bicubic_downscale(hr)), rounded to 8 bits like
    an LR image read from disk. Images smaller than `scale` pixels are left out.
    """
    files = list_record_files(pattern)
    if not files:
        raise FileNotFoundError(f"No evaluation records match {pattern!r}.")

    def pair(features: dict) -> dict:
        hr = imaging.mod_crop(imaging.to_float(imaging.decode_rgb(features["image/encoded"])), scale)
        return {"key": features["image/key"], "hr": hr,
                "lr": imaging.quantize(imaging.bicubic_downscale(hr, scale))}

    images = _records_in_order(files).map(records.parse_example).filter(_at_least(scale))
    if max_images is not None:
        images = images.take(max_images)
    return images.map(pair, num_parallel_calls=AUTOTUNE).batch(1).prefetch(AUTOTUNE)
