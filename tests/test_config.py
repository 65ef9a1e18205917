"""The frozen configs: values that cannot work refused by flag name, old model configs loaded (config.py)."""
import json

import pytest

from srgan_tf.config import VGG_LAYERS, GeneratorConfig, LossConfig, training_config
from srgan_tf.modeling.vgg import keras_layer


def test_model_configs_written_before_the_generator_options_load_as_the_paper_network():
    old = {"scale": 4, "num_residual_blocks": 16, "num_filters": 64, "hr_patch_size": 96,
           "discriminator_filters": 64, "vgg_layer": "vgg54", "vgg_weights": "imagenet"}
    config = GeneratorConfig.from_json(json.dumps(old))
    assert (config.generator_batch_norm, config.residual_scaling, config.bicubic_residual) == (True, 1.0, False)


@pytest.mark.parametrize("overrides,named", [
    ({"ema_decay": 1.0}, "--ema_decay"),
    ({"ema_decay": -0.1}, "--ema_decay"),
    ({"warmup_steps": 100, "train_steps": 100}, "--warmup_steps"),
    ({"pixel_loss": "l2"}, "--pixel_loss"),
    ({"lr_schedule": "linear"}, "--lr_schedule"),
    ({"lr_schedule": "cosine", "lr_decay_step": 10}, "--lr_decay_step=10 belongs to --lr_schedule=step"),
    ({"warmup_steps": 10, "lr_decay_step": 10}, "--lr_decay_step=10 must come after the --warmup_steps"),
    ({"lr_schedule": "multistep"}, "--lr_schedule=multistep needs --lr_milestones"),
    ({"lr_milestones": "10,20"}, "--lr_milestones=10,20 belongs to --lr_schedule=multistep, not step"),
    ({"lr_schedule": "multistep", "lr_milestones": "10,x"}, "--lr_milestones=10,x: not comma-separated"),
    ({"lr_schedule": "multistep", "lr_milestones": "20,10"}, "--lr_milestones=20,10 must increase"),
    ({"lr_schedule": "multistep", "lr_milestones": "10", "lr_decay_factor": 2.0}, "--lr_decay_factor=2.0"),
    ({"generator": "rrdb", "residual_scaling": 0.1}, "--residual_scaling=0.1 is SRResNet's"),
    ({"adversarial": "wgan"}, "--adversarial"),
    ({"pixel_weight": -1.0}, "--pixel_weight=-1.0 must be >= 0"),
    ({"degradation": "jpeg"}, "--degradation='jpeg' is not supported"),
    ({"sinc_prob": 1.5}, "--sinc_prob=1.5 is a probability"),
    ({"gray_noise_prob2": -0.1}, "--gray_noise_prob2=-0.1 is a probability"),
    ({"kernel_prob": (0.5, 0.5)}, "--kernel_prob=0.5,0.5 needs 6 probabilities"),
    ({"resize_prob2": (0.5, 0.4, 0.3)}, "--resize_prob2=0.5,0.4,0.3: probabilities in \\[0, 1\\] that sum to 1"),
    ({"jpeg_range": (0.0, 90.0)}, "--jpeg_range=0,90 must be two numbers lo,hi with lo <= hi, both \\[1, 100\\]"),
    ({"jpeg_range2": (30.0, 101.0)}, "--jpeg_range2=30,101"),
    ({"noise_range": (30.0, 1.0)}, "--noise_range=30,1"),
    ({"blur_sigma": (0.0, 3.0)}, "--blur_sigma=0,3"),
    ({"resize_range": (1.1, 1.5)}, "--resize_range=1.1,1.5 must reach above 1 for 'up' and below 1 for 'down'"),
    ({"resize_prob2": (1.0, 0.0, 0.0), "resize_range2": (0.3, 0.8)}, "--resize_range2=0.3,0.8 must reach above 1"),
    ({"resize_range": (0.15, float("inf"))}, "--resize_range=0.15,inf must be two numbers"),
    ({"betap_range": (1.5, 2.0)}, "--betap_range=1.5,2 must include 1"),
    ({"min_image_scale": 0.0}, "--min_image_scale=0.0 must be in \\(0, 1\\]"),
    ({"min_image_scale": 1.5}, "--min_image_scale=1.5 must be in \\(0, 1\\]"),
    ({"blur_kernel_size": 20}, "--blur_kernel_size=20 must be odd"),
    ({"blur_kernel_size": 1}, "--blur_kernel_size=1 must be >= 3"),
    ({"vgg_layer_weights": "vgg22:1,vgg55:1"}, "--vgg_layer_weights: 'vgg55:1': 'vgg55' is no VGG19 layer"),
    ({"vgg_layer_weights": "vgg22:1,vgg54"}, "--vgg_layer_weights: 'vgg54' is not layer:weight"),
    ({"vgg_layer_weights": "vgg22:x"}, "--vgg_layer_weights: 'vgg22:x': the weight 'x' is not a number"),
    ({"vgg_layer_weights": "vgg22:-1"}, "--vgg_layer_weights: 'vgg22:-1': the weight must be a finite number >= 0"),
    ({"vgg_layer_weights": "vgg22:nan"}, "--vgg_layer_weights: 'vgg22:nan': the weight must be a finite"),
    ({"vgg_layer_weights": "vgg22:1,vgg54:1,vgg22:2"}, "--vgg_layer_weights: 'vgg22:2': vgg22 is weighted twice"),
    ({"vgg_layer_weights": " , "}, "--vgg_layer_weights=' , ' names no layer"),
    ({"vgg_layer": "vgg22", "vgg_layer_weights": "vgg54:1"}, "--vgg_layer=vgg22 and --vgg_layer_weights=vgg54:1"),
    ({"content_loss": "pixel", "vgg_layer_weights": "vgg54:1"}, "but --content_loss=pixel compares pixels"),
])
def test_settings_that_cannot_work_are_refused_by_flag_name(overrides, named):
    with pytest.raises(ValueError, match=named):
        training_config(model_dir="m", **overrides)


@pytest.mark.parametrize("bad,match", [(dict(scale=3), "--scale=3"),
                                      (dict(vgg_layer="vgg55"), "--vgg_layer='vgg55'")])
def test_bad_model_config_names_the_flag(bad, match):
    with pytest.raises(ValueError, match=match):
        training_config(model_dir="m", **bad)


@pytest.mark.parametrize("settings,named", [
    (dict(hr_patch_size=30, scale=4), "--hr_patch_size=30 must be a multiple of --scale=4"),
    (dict(phase="gan", discriminator="unet", hr_patch_size=20, scale=4),
     "--hr_patch_size=20 must be a multiple of 8 for --discriminator=unet"),
    (dict(data_service="grpc://d:1", deterministic=True, seed=1), "--data_service=grpc://d:1 needs an unseeded"),
    (dict(model_dir=""), "--model_dir is required"),
    (dict(learning_rate=1e-3, no_such_setting=1), "No such settings: \\['no_such_setting'\\]"),
    (dict(degradation="realesrgan", hr_patch_size=64),
     "--blur_kernel_size=21 is too large for --hr_patch_size=64: kernels of up to 21 pixels filter the first resize's "
     "smallest result \\(x0.15, --resize_range\\), of 9 pixels.* at least 76 pixels"),
    (dict(degradation="realesrgan", hr_patch_size=96, blur_kernel_size=25, scale=8),
     "--blur_kernel_size=25 is too large for --hr_patch_size=96: kernels of up to 25 pixels filter the LR image, "
     "of 12 pixels"),
    (dict(degradation="realesrgan", hr_patch_size=24, blur_kernel_size=3, usm_hr=True),
     "--usm_hr sharpens with a 51-pixel kernel: --hr_patch_size=24 must be above 25"),
])
def test_settings_across_groups_are_checked_where_they_meet(settings, named):
    with pytest.raises(ValueError, match=named):
        training_config(**{"model_dir": "m", **settings})


def test_vgg_layers_are_named_as_the_papers_name_them():
    assert [keras_layer(name) for name in ("vgg12", "vgg22", "vgg34", "vgg54", "vgg44_before_relu")] == [
        "block1_conv2", "block2_conv2", "block3_conv4", "block5_conv4", "block4_conv4"]
    assert len(set(VGG_LAYERS)) == 2 * 16  # every convolution of VGG19, after and before its ReLU
    assert {keras_layer(name) for name in VGG_LAYERS} == {f"block{block}_conv{conv}" for block, convolutions in
                                                          enumerate((2, 2, 4, 4, 4), start=1)
                                                          for conv in range(1, convolutions + 1)}


def test_vgg_layer_weights_replace_the_single_vgg_layer():
    assert LossConfig().weighted_vgg_layers == (("vgg54", 1.0),)
    assert LossConfig(vgg_layer="vgg22_before_relu").weighted_vgg_layers == (("vgg22_before_relu", 1.0),)
    real_esrgan = LossConfig(vgg_layer_weights="vgg12_before_relu:0.1, vgg22_before_relu:0.1,vgg34_before_relu:1,"
                                               "vgg44_before_relu:1,vgg54_before_relu:1,")
    assert real_esrgan.weighted_vgg_layers == (("vgg12_before_relu", 0.1), ("vgg22_before_relu", 0.1),
                                               ("vgg34_before_relu", 1.0), ("vgg44_before_relu", 1.0),
                                               ("vgg54_before_relu", 1.0))


def test_the_discriminators_patch_size_is_checked_only_where_it_is_built():
    assert training_config(model_dir="m", phase="pretrain", discriminator="unet", hr_patch_size=20).phase
