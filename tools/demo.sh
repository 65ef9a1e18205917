#!/usr/bin/env bash
# The whole job on the sample photographs shipped with scikit-image, on a CPU, in minutes:
# records -> PSNR-oriented pretraining -> GAN training -> SavedModel exports -> upscale a held-out photo ->
# PSNR/SSIM and NIQE of both models next to bicubic's and the shipped models' (trained on the field's 291 training
# images). Every step is a command you can run on your own data.
#
# Usage: bash tools/demo.sh [OUTPUT_DIR]   (default: demo_output; PRETRAIN_STEPS and GAN_STEPS override)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo_output}"
pretrain_steps="${PRETRAIN_STEPS:-3000}"
gan_steps="${GAN_STEPS:-500}"
set5=../shared/data/Set5
python=${PYTHON:-python}
start=$(date +%s)
step() { printf '\n=== [%4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }
train() {
  "$python" -m srgan_tf.train --flagfile=configs/demo.flags --train_records="$out/records/train-*" \
    --val_records="$out/records/val-*" "$@"
}

step "1/6 TFRecords from the sample photographs"
"$python" -m srgan_tf.make_records --source=samples --output_dir="$out/records" --num_shards=4 --min_size=64

step "2/6 PSNR-oriented pretraining: EDSR-style residual network over bicubic, L1 loss ($pretrain_steps steps), then export"
train --phase=pretrain --model_dir="$out/srresnet" --train_steps="$pretrain_steps" \
  --export_dir="$out/exports/srresnet"

step "3/6 GAN training from the pretrained generator ($gan_steps steps), then export. Loss: L1 pixel content + 1e-3 x adversarial (the paper's SRGAN-MSE variant: without ImageNet VGG19 weights, random VGG features would be no perceptual loss)"
train --phase=gan --model_dir="$out/srgan" --init_checkpoint="$out/srresnet" --train_steps="$gan_steps" \
  --learning_rate=1e-4 --warmup_steps=0 --export_dir="$out/exports/srgan"

step "4/6 A held-out photo (chelsea, never trained on) and its x4 bicubic-downscaled LR"
"$python" - "$out" <<'PY'
import os, sys
import skimage
from srgan_tf.common import commands
commands.quiet_tensorflow()  # as the commands do: no TensorFlow start-up lines
from srgan_tf.common import imaging
out = sys.argv[1]
hr = imaging.load_rgb(os.path.join(os.path.dirname(skimage.__file__), "data", "chelsea.png"))
hr = imaging.mod_crop(imaging.to_float(hr), 4)
imaging.save_png(os.path.join(out, "heldout", "chelsea.png"), imaging.to_uint8(hr).numpy())
lr = imaging.bicubic_downscale(hr, 4)
imaging.save_png(os.path.join(out, "heldout_lr", "chelsea.png"), imaging.to_uint8(lr).numpy())
print(f"HR {hr.shape[1]}x{hr.shape[0]} -> LR {lr.shape[1]}x{lr.shape[0]}")
PY

step "5/6 Upscale the held-out LR photo with the exported GAN SavedModel"
"$python" -m srgan_tf.upscale --model="$out/exports/srgan" --output_dir="$out/upscaled" --overwrite \
  "$out/heldout_lr/chelsea.png"

hr_dirs="$out/heldout"
if [ -d "$set5" ]; then hr_dirs="$hr_dirs,$set5"; fi
# The models shipped with the package, by name (the first word of each line of --list_models).
shipped=$("$python" -m srgan_tf.upscale --list_models | awk '$2 ~ /^x[0-9]/ {printf ",%s", $1}')
step "6/6 PSNR/SSIM and NIQE of both models next to bicubic and the shipped models${shipped//,/ } (Y channel, 4-pixel border removed): $hr_dirs"
"$python" -m srgan_tf.evaluate --model="$out/exports/srresnet,$out/exports/srgan$shipped" --hr_dir="$hr_dirs" \
  --scale=4 --niqe --output_dir="$out/eval"

step "done"
cat <<MSG
Outputs in $out/: records/, srresnet/ and srgan/ (checkpoints, TensorBoard: tensorboard --logdir $out),
exports/srresnet and exports/srgan (TF Serving layout), upscaled/chelsea_sr.png, and eval/: a picture per
image (eval/heldout/chelsea.png: LR | bicubic | srresnet | srgan | the shipped models | HR, each with its PSNR),
the table (eval/table.md), CSV and JSON. srresnet is the PSNR-oriented model; srgan trades some PSNR for
sharper detail (a lower NIQE); the shipped models show what the field's training images buy. The recipe is
configs/cpu.flags made smaller; the paper's SRGAN (VGG54 content loss with ImageNet weights) is
configs/div2k_srresnet.flags and configs/div2k_srgan.flags, for GPUs.
MSG
