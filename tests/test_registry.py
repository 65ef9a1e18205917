"""The extension points: each registry's names are its flag's choices, every entry implements its interface,
and a network registered from outside the package is built, trained and tiled like the shipped ones."""
import inspect

import numpy as np
import pytest
from absl import flags

from srgan_tf import registry
from srgan_tf.config import GeneratorConfig, training_config
from srgan_tf.config_flags import define_training_flags
from srgan_tf.data.degradations import Degradation
from srgan_tf.modeling.generator import GeneratorNetwork, build_generator, receptive_radius
from srgan_tf.training.tasks import Task

FLAGGED = [registry.GENERATORS, registry.DISCRIMINATORS, registry.PIXEL_LOSSES, registry.ADVERSARIAL_LOSSES,
           registry.DEGRADATIONS, registry.TASKS]


@pytest.mark.parametrize("table", FLAGGED, ids=lambda table: table.flag)
def test_a_registrys_names_are_its_flags_choices(table):
    flag_values = flags.FlagValues()
    define_training_flags(flag_values)
    assert flag_values[table.flag].parser.enum_values == list(table)
    with pytest.raises(ValueError, match=f"--{table.flag}='nonesuch' is not supported; choose one of "
                                         f"\\[{', '.join(repr(name) for name in table)}\\]"):
        table["nonesuch"]


@pytest.mark.parametrize("table,interface", [
    (registry.GENERATORS, lambda entry: isinstance(entry, GeneratorNetwork)),
    (registry.DISCRIMINATORS, lambda entry: list(inspect.signature(entry).parameters) == ["x", "f"]),
    (registry.PIXEL_LOSSES, lambda entry: list(inspect.signature(entry).parameters) == ["hr", "sr"]),
    (registry.ADVERSARIAL_LOSSES, lambda entry: list(inspect.signature(entry).parameters) == [
        "real_logits", "fake_logits", "batch_mean"]),
    (registry.DEGRADATIONS, lambda entry: isinstance(entry, Degradation)),
    (registry.TASKS, lambda entry: issubclass(entry, Task)),
], ids=lambda value: getattr(value, "flag", ""))
def test_every_entry_implements_its_interface(table, interface):
    for name in table:
        assert interface(table[name]), f"--{table.flag}={name}: {table[name]!r}"
    assert [task.name for task in registry.TASKS.values()] == list(registry.TASKS)


def test_a_generator_from_outside_the_package_is_one_module_and_a_registration(monkeypatch):
    monkeypatch.setattr(registry.GENERATORS, "_entries", dict(registry.GENERATORS._entries))
    with pytest.raises(ValueError, match="--generator='plain' is not supported"):
        GeneratorConfig(generator="plain")
    registry.GENERATORS.register("plain", "tests.modeling.plain_generator:PLAIN")
    with pytest.raises(ValueError, match="--generator='plain' is registered already"):
        registry.GENERATORS.register("plain", "tests.modeling.plain_generator:PLAIN")
    config = GeneratorConfig(generator="plain", num_filters=8, scale=4)
    generator = build_generator(config)
    assert generator.name == "plain"
    sr = generator(np.zeros([1, 6, 5, 3], np.float32)).numpy()
    assert sr.shape == (1, 24, 20, 3) and ((0 <= sr) & (sr <= 1)).all()  # bounded_output: tanh
    assert receptive_radius(config) == 3  # head 1 + two upsamplers 1/1 + 1/2, tail 1/4
    assert training_config(model_dir="m", generator="plain").generator.generator == "plain"
