"""Which image files a command-line tool reads, and where it writes each result.

Both the local upscaler and the serving client take files and folders and write one PNG per input; they
plan all output names before any work starts, so a name clash or an existing file stops the run before
anything is written or overwritten.
"""
from __future__ import annotations

import os
from typing import Dict, List, Sequence

# What TensorFlow's decoders (and so the serving signature) read.
SERVABLE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def find_images(paths: Sequence[str], extensions: Sequence[str] = SERVABLE_EXTENSIONS) -> List[str]:
    """Files as given, plus the images (by extension) directly inside each folder, in a stable order."""
    images = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if os.path.splitext(n)[1].lower() in extensions)
            images += [os.path.join(path, name) for name in names]
        elif os.path.isfile(path):
            images.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder.")
    if not images:
        raise FileNotFoundError(f"no images ({', '.join(extensions)}) found in {list(paths)}.")
    return images


def plan_outputs(images: Sequence[str], output_dir: str, suffix: str = "_sr",
                 overwrite: bool = False) -> Dict[str, str]:
    """Maps each input to `output_dir/<name><suffix>.png`.

    Refuses two inputs with one output name and, unless `overwrite`, outputs that already exist.
    """
    outputs: Dict[str, str] = {}
    for image in images:
        output = os.path.join(output_dir, os.path.splitext(os.path.basename(image))[0] + suffix + ".png")
        clash = next((other for other, planned in outputs.items() if planned == output), None)
        if clash is not None:
            raise ValueError(f"{image} and {clash} would both be written to {output}; rename one of them.")
        if not overwrite and os.path.exists(output):
            raise FileExistsError(f"{output} already exists; pass --overwrite to replace it.")
        outputs[image] = output
    return outputs
