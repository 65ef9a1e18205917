r"""ESRGAN's network interpolation: generators between a PSNR-trained generator and its GAN fine-tuning,
exported as SavedModel versions for TF Serving (see `srgan_tf.modeling.interpolation`).

    srgan-interpolate --psnr_model=runs/srresnet --gan_model=runs/srgan --alpha=0.8 --export_dir=exports/blend
    srgan-interpolate --psnr_model=runs/srresnet --gan_model=runs/srgan --alphas=0,0.2,0.4,0.6,0.8,1 \
        --export_dir=exports/blend

Every weight, BatchNorm's moving statistics included, is (1 - alpha) * PSNR + alpha * GAN; both models are
loaded as `srgan_tf.export` loads them (with the moving average of their weights where the run kept one) and
must have the same generator config. Alpha A becomes version round(100 * A), e.g. exports/blend/80 for 0.8,
so that `srgan_tf.evaluate`, which labels models by the last part of their path, shows the alphas in percent.
Every alpha, and that none of their versions exists (unless --overwrite), is checked before the first export.
"""
from __future__ import annotations

import os
import sys
from typing import Dict

from absl import flags

from srgan_tf.common import commands

commands.quiet_tensorflow()  # before anything imports TensorFlow

from srgan_tf.config import GeneratorConfig  # noqa: E402
from srgan_tf.modeling.checkpointing import load_generator  # noqa: E402
from srgan_tf.modeling.generator import build_generator  # noqa: E402
from srgan_tf.modeling.interpolation import interpolate_weights  # noqa: E402
from srgan_tf.serving import tiling_flags  # noqa: E402
from srgan_tf.serving.saved_model import check_absent, export_saved_model  # noqa: E402


def _requested_versions(f) -> Dict[int, float]:
    """The alpha of each version to export, in the order given, once all are known to be valid."""
    if (f.alpha is None) == (f.alphas is None):
        raise ValueError("Give exactly one of --alpha=A and --alphas=A,B,...")
    if f.alphas is None:
        flag, alphas = "--alpha", [f.alpha]
    elif f.version is not None:
        raise ValueError("--version names the version of a single --alpha; --alphas are exported as versions "
                         "round(100 * alpha).")
    else:
        flag = "--alphas"
        try:
            alphas = [float(text) for text in f.alphas]
        except ValueError as error:
            raise ValueError(f"{flag}: {error}") from None
    versions = {}
    for alpha in alphas:
        if not 0 <= alpha <= 1:
            raise ValueError(f"{flag}: {alpha} is outside [0, 1] (0 is the PSNR generator, 1 the GAN "
                             f"generator).")
        version = round(100 * alpha) if f.version is None else f.version
        if version in versions:
            raise ValueError(f"{flag}: {versions[version]} and {alpha} would both be version {version} "
                             f"(the alpha in percent).")
        versions[version] = alpha
    if not versions:
        raise ValueError(f"{flag} is empty.")
    return versions


def _check_same_network(psnr_config: GeneratorConfig, gan_config: GeneratorConfig, psnr_model: str,
                        gan_model: str) -> None:
    """Weights blend one for one only between generators built from the same config."""
    differing = psnr_config.differences(gan_config)
    if differing:
        def settings(side: int) -> str:
            return " and ".join(f"{field}={values[side]}" for field, values in differing.items())

        raise ValueError(f"--psnr_model={psnr_model} has {settings(0)}, --gan_model={gan_model} has "
                         f"{settings(1)}: the generators must have the same shape to interpolate.")


def main(argv):
    del argv
    f = flags.FLAGS
    try:
        versions = _requested_versions(f)
        if not f.overwrite:
            for version in versions:
                check_absent(os.path.join(f.export_dir, str(version)))
        psnr_generator, model_config, _ = load_generator(f.psnr_model)
        gan_generator, gan_config, _ = load_generator(f.gan_model)
        _check_same_network(model_config, gan_config, f.psnr_model, f.gan_model)
        blended = build_generator(model_config)
        paths = []
        for version, alpha in versions.items():
            blended.set_weights(interpolate_weights(psnr_generator, gan_generator, alpha))
            paths.append(export_saved_model(blended, model_config, f.export_dir, version, tile_size=f.tile_size,
                                            tile_overlap=f.tile_overlap, max_pixels=f.max_pixels,
                                            overwrite=f.overwrite))
            print(f"alpha {alpha:.2f} -> {paths[-1]}", flush=True)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Score them: python -m srgan_tf.evaluate --model={','.join(paths)} --hr_dir=... "
          f"--scale={model_config.scale}")
    return 0


def _define_flags() -> None:
    """Called by `run()`: importing this module defines no flags."""
    flags.DEFINE_string("psnr_model", None, "Model directory or checkpoint prefix of the PSNR-trained generator "
                                            "(alpha 0).", required=True)
    flags.DEFINE_string("gan_model", None, "Model directory or checkpoint prefix of the GAN generator (alpha 1), "
                                           "of the same shape.", required=True)
    flags.DEFINE_float("alpha", None, "Weight of the GAN generator, in [0, 1] (ESRGAN's example: 0.8).")
    flags.DEFINE_list("alphas", None, "Several alphas, comma-separated, each exported as its own version.")
    tiling_flags.define_export_flags("With --alpha: version directory name; default: round(100 * alpha).")


def run() -> None:
    """The `srgan-interpolate` command (`python -m srgan_tf.interpolate`)."""
    _define_flags()
    commands.run(main)


if __name__ == "__main__":
    run()
