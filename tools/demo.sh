#!/usr/bin/env bash
# The whole job on the sample photographs shipped with scikit-image, on a CPU, in minutes:
# records -> SRResNet pretraining -> SRGAN training -> SavedModel export -> upscale a held-out photo ->
# PSNR/SSIM of the model next to bicubic's. Every step is a command you can run on your own data.
#
# Usage: bash tools/demo.sh [OUTPUT_DIR]   (default: demo_output; PRETRAIN_STEPS and GAN_STEPS override)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo_output}"
pretrain_steps="${PRETRAIN_STEPS:-800}"
gan_steps="${GAN_STEPS:-200}"
export TF_CPP_MIN_LOG_LEVEL=2
python=${PYTHON:-python}
start=$(date +%s)
step() { printf '\n=== [%4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }

step "1/6 TFRecords from the sample photographs"
"$python" tools/make_tfrecords.py --source=samples --output_dir="$out/records" --num_shards=4 --min_size=64

step "2/6 SRResNet pretraining, pixel MSE ($pretrain_steps steps)"
"$python" -m srgan_tf.train --flagfile=configs/demo.flags --train_records="$out/records/train-*" \
  --val_records="$out/records/val-*" --phase=pretrain --model_dir="$out/srresnet" --train_steps="$pretrain_steps"

step "3/6 SRGAN: VGG content + adversarial loss, from the pretrained generator ($gan_steps steps), then export"
"$python" -m srgan_tf.train --flagfile=configs/demo.flags --train_records="$out/records/train-*" \
  --val_records="$out/records/val-*" --phase=gan --model_dir="$out/srgan" --init_checkpoint="$out/srresnet" \
  --train_steps="$gan_steps" --export_dir="$out/exports"

step "4/6 A held-out photo (chelsea, never trained on) and its x4 bicubic-downscaled LR"
"$python" - "$out" <<'PY'
import os, sys
import skimage
from srgan_tf import imaging
out = sys.argv[1]
hr = imaging.load_rgb(os.path.join(os.path.dirname(skimage.__file__), "data", "chelsea.png"))
hr = imaging.mod_crop(imaging.to_float(hr), 4)
imaging.save_png(os.path.join(out, "heldout", "chelsea.png"), imaging.to_uint8(hr).numpy())
lr = imaging.bicubic_downscale(hr, 4)
imaging.save_png(os.path.join(out, "heldout_lr", "chelsea.png"), imaging.to_uint8(lr).numpy())
print(f"HR {hr.shape[1]}x{hr.shape[0]} -> LR {lr.shape[1]}x{lr.shape[0]}")
PY

step "5/6 Upscale the held-out LR photo with the exported SavedModel"
"$python" tools/upscale.py --model="$out/exports" --output_dir="$out/upscaled" --overwrite "$out/heldout_lr/chelsea.png"

step "6/6 PSNR/SSIM on the held-out photo (Y channel, 4-pixel border removed), model vs. bicubic"
"$python" -m srgan_tf.evaluate --model="$out/exports" --hr_dir="$out/heldout" --scale=4 --output_dir="$out/eval"

step "done"
cat <<MSG
Outputs in $out/: records/, srresnet/ and srgan/ (checkpoints, TensorBoard: tensorboard --logdir $out),
exports/ (TF Serving layout), upscaled/chelsea_sr.png, eval/ (CSV, JSON, side-by-side pictures).
Minutes of CPU training with random VGG features show the pipeline working, not SRGAN's quality:
that takes configs/div2k_srresnet.flags and configs/div2k_srgan.flags, ImageNet VGG19 weights and GPU-days.
MSG
