"""Command-line flags generated from the configuration dataclasses of `srgan_tf.config`.

One flag per field, with the field's name, type, default and help; a field's declared `choices` and
`lower_bound` are checked when flags are parsed, checks across fields when the config is built.
"""
from __future__ import annotations

import dataclasses
import typing
from typing import Optional, Sequence, Tuple

from absl import flags

from srgan_tf.config import GROUPS, TrainingConfig, settings_of, training_config


class _NumbersParser(flags.ArgumentParser):
    """Comma-separated numbers (`0.15,1.5`) as a tuple of floats."""

    def parse(self, argument) -> Tuple[float, ...]:
        if isinstance(argument, (tuple, list)):
            return tuple(float(value) for value in argument)
        try:
            return tuple(float(value) for value in argument.split(",") if value.strip())
        except ValueError as error:
            raise ValueError(f"not comma-separated numbers: {argument!r}") from error

    def flag_type(self) -> str:
        return "comma-separated numbers"


def _define_numbers(name, default, help, flag_values):
    flags.DEFINE(_NumbersParser(), name, default, help, flag_values=flag_values,
                 serializer=flags.CsvListSerializer(","))


FLAG_DEFINERS = {bool: flags.DEFINE_bool, str: flags.DEFINE_string, int: flags.DEFINE_integer,
                 Optional[int]: flags.DEFINE_integer, float: flags.DEFINE_float,
                 Tuple[float, ...]: _define_numbers}


def _define(field: dataclasses.Field, kind, flag_values: flags.FlagValues) -> None:
    help_text, choices = field.metadata["help"], field.metadata.get("choices")
    if kind is str and choices:
        flags.DEFINE_enum(field.name, field.default, list(choices), help_text, flag_values=flag_values)
        return
    options = {}
    if "lower_bound" in field.metadata:
        options["lower_bound"] = field.metadata["lower_bound"]
    FLAG_DEFINERS[kind](field.name, field.default, help_text, flag_values=flag_values, **options)
    if choices:
        flags.register_validator(field.name, lambda value: value in choices, flag_values=flag_values,
                                 message=f"--{field.name} must be one of {list(choices)}.")


def define_flags(config_classes: Sequence[type], flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines a flag for every setting of each config class."""
    for config_class in config_classes:
        kinds = typing.get_type_hints(config_class)
        for field in settings_of(config_class):
            _define(field, kinds[field.name], flag_values)


def settings_from_flags(config_classes: Sequence[type], flag_values: flags.FlagValues = flags.FLAGS) -> dict:
    """The parsed values of the flags `define_flags` defined for these classes, by setting name."""
    return {field.name: flag_values[field.name].value
            for config_class in config_classes for field in settings_of(config_class)}


TRAINING_CLASSES = (TrainingConfig, *GROUPS.values())


def define_training_flags(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines a flag for every setting of a TrainingConfig."""
    define_flags(TRAINING_CLASSES, flag_values)


def training_config_from_flags(flag_values: flags.FlagValues = flags.FLAGS) -> TrainingConfig:
    """The frozen TrainingConfig of parsed flags; ValueError names the flag(s) of a setting that can't work."""
    return training_config(**settings_from_flags(TRAINING_CLASSES, flag_values))


def _flag_line(name: str, value) -> str:
    """`--name=value` as absl reads it back: booleans as --name / --noname, numbers exactly (repr)."""
    if isinstance(value, bool):
        return f"--{name}" if value else f"--no{name}"
    if isinstance(value, tuple):
        return f"--{name}={','.join(repr(v) for v in value)}"
    return f"--{name}={value!r}" if isinstance(value, float) else f"--{name}={value}"


def flagfile_text(config: TrainingConfig) -> str:
    """Every setting of `config` as a flagfile, one flag a line: `srgan-train --flagfile=...` builds the same
    config. A setting that is unset (None, e.g. --seed) is left out, as it is by default."""
    lines = ["# Every setting of this run; srgan-train --flagfile=<this file> runs it again."]
    for group_name in ("",) + tuple(GROUPS):
        group = getattr(config, group_name) if group_name else config
        for field in settings_of(type(group)):
            value = getattr(group, field.name)
            if value is not None:
                lines.append(_flag_line(field.name, value))
    return "\n".join(lines) + "\n"
