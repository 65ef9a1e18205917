# `python tools/upscale.py` is the `srgan-upscale` command (srgan_tf/upscale.py); --help shows its usage.
from srgan_tf.upscale import run

if __name__ == "__main__":
    run()
