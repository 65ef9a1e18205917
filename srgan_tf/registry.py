"""The library's extension points: for each, the table of its implementations by the name a flag chooses.

| registry | flag | what an entry is |
|---|---|---|
| `GENERATORS` | `--generator` | a `modeling.generator.GeneratorNetwork` |
| `DISCRIMINATORS` | `--discriminator` | a function: signed HR patch, first layer's width -> logits |
| `PIXEL_LOSSES` | `--pixel_loss` | a function: hr, sr -> loss per example |
| `ADVERSARIAL_LOSSES` | `--adversarial` | a function: real logits, fake logits, batch mean -> `AdversarialLosses` |
| `DEGRADATIONS` | `--degradation` | a `data.degradations.Degradation` |
| `TASKS` | `--phase` | a `training.tasks.Task` subclass |

The names are the config's choices (`config.py` passes a registry as a setting's `choices`), so a flag, its
`--help` and the library accept exactly what is registered. An entry is written as "module:attribute" and
imported the first time it is used: the names are known without importing TensorFlow, and this table, which
`config.py` reads, imports nothing from the layers above it. Adding an implementation is its module and one
line here (docs/design.md).
"""
from __future__ import annotations

import importlib
from typing import Dict, Iterator, Mapping


class Registry(Mapping):
    """Names to implementations of one extension point, chosen by `--<flag>`; a read-only mapping whose values
    are imported on first access."""

    def __init__(self, flag: str, entries: Dict[str, str]):
        self.flag = flag
        self._entries = dict(entries)
        self._loaded: Dict[str, object] = {}

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str):
        """The implementation registered as `name`; ValueError naming the flag and the names otherwise."""
        if name not in self._entries:
            raise ValueError(f"--{self.flag}={name!r} is not supported; choose one of {list(self._entries)}.")
        if name not in self._loaded:
            module, _, attribute = self._entries[name].partition(":")
            self._loaded[name] = getattr(importlib.import_module(module), attribute)
        return self._loaded[name]

    def register(self, name: str, entry: str) -> None:
        """Adds an implementation, "module:attribute", under `name`: how code outside the package extends
        it (the commands' flags list what was registered when they were defined)."""
        if name in self._entries:
            raise ValueError(f"--{self.flag}={name!r} is registered already, as {self._entries[name]}.")
        self._entries[name] = entry

    def __repr__(self) -> str:
        return f"Registry(--{self.flag}: {', '.join(self._entries)})"


GENERATORS = Registry("generator", {
    "srresnet": "srgan_tf.modeling.srresnet:SRRESNET",
    "rrdb": "srgan_tf.modeling.rrdbnet:RRDBNET",
})
DISCRIMINATORS = Registry("discriminator", {
    "vgg": "srgan_tf.modeling.discriminator:srgan",
    "vgg128": "srgan_tf.modeling.discriminator:vgg128",
    "unet": "srgan_tf.modeling.discriminator:unet",
})
PIXEL_LOSSES = Registry("pixel_loss", {
    "mse": "srgan_tf.modeling.losses:pixel_mse",
    "l1": "srgan_tf.modeling.losses:pixel_l1",
})
ADVERSARIAL_LOSSES = Registry("adversarial", {
    "vanilla": "srgan_tf.modeling.losses:vanilla_gan",
    "relativistic": "srgan_tf.modeling.losses:relativistic_average_gan",
})
DEGRADATIONS = Registry("degradation", {
    "bicubic": "srgan_tf.data.degradations:BICUBIC",
    "realesrgan": "srgan_tf.data.realesrgan:REALESRGAN",
})
TASKS = Registry("phase", {
    "pretrain": "srgan_tf.training.tasks:PretrainingTask",
    "gan": "srgan_tf.training.tasks:AdversarialTask",
})
