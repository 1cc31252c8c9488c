"""Config dataclasses: fields that carry their own help and limits, and one validator for all.

Each command has one frozen dataclass (`StyleConfig`, `UnitsConfig`, ...). A field made with
`option()` carries its one-line help, its CLI metavar and its limits; the CLI builds its options
from these fields, and `check_fields` enforces the types and limits when the dataclass is built,
so the API and the CLI accept and refuse exactly the same values, before any work.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Mapping
from dataclasses import field, fields
from typing import Any


class ConfigError(ValueError):
    """A bad setting. The API names the field (``content_weight``); the CLI the flag."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name, self.problem = name, problem

    def for_cli(self) -> str:
        return f"--{self.name.replace('_', '-')} {self.problem}"


def option(
    default: Any,
    help: str,
    *,
    min: float | None = None,
    max: float | None = None,
    positive: bool = False,
    **meta: Any,
) -> Any:
    """A config field with its one-line help and limits (`min`/`max` inclusive, `positive` > 0)."""
    return field(
        default=default,
        metadata={"help": help, "min": min, "max": max, "positive": positive, **meta},
    )


def field_types(cls: type) -> dict[str, Any]:
    """Each field's type with ``X | None`` unwrapped, and whether None is allowed."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in fields(cls):
        hint, optional = hints[f.name], False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            hint, optional = args[0], len(args) < len(typing.get_args(hint))
        out[f.name] = (hint, optional)
    return out


def _check_scalar(name: str, value: Any, hint: Any, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise ConfigError(name, f"must be one of {', '.join(map(str, choices))}, not {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(name, f"must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(name, f"must be a whole number, not {value!r}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(name, f"must be a number, not {value!r}")
        try:
            value = float(value)
        except OverflowError:  # an int past float's range
            value = math.inf
        if not math.isfinite(value):
            raise ConfigError(name, f"must be a finite number, not {value}")
    elif hint is str:
        if not isinstance(value, str):
            raise ConfigError(name, f"must be a string, not {value!r}")
        return value
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(name, f"must be at least {meta['min']}, not {value}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(name, f"must be at most {meta['max']}, not {value}")
    if meta.get("positive") and value <= 0:
        raise ConfigError(name, f"must be positive, not {value}")
    return value


def check_fields(config: Any) -> None:
    """Check every field of a frozen config dataclass against its type and limits, and turn
    lists into tuples. Raises `ConfigError` naming the first bad field."""
    types_ = field_types(type(config))
    for f in fields(config):
        hint, optional = types_[f.name]
        value = getattr(config, f.name)
        if value is None:
            if not optional:
                raise ConfigError(f.name, "must be given")
            continue
        if typing.get_origin(hint) is tuple:
            if isinstance(value, str):
                raise ConfigError(
                    f.name,
                    f"must be a list of values, not the single string {value!r};"
                    f" write ({value!r},)",
                )
            if isinstance(value, bytes) or not isinstance(value, (tuple, list)):
                raise ConfigError(f.name, f"must be a list of values, not {value!r}")
            item = typing.get_args(hint)[0]
            value = tuple(_check_scalar(f.name, v, item, f.metadata) for v in value)
        else:
            value = _check_scalar(f.name, value, hint, f.metadata)
        object.__setattr__(config, f.name, value)


def changed_fields(config: Any) -> dict[str, Any]:
    """The fields that differ from their defaults, JSON-ready (tuples as lists)."""
    out = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if value != f.default:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def as_flags(changes: dict[str, Any]) -> list[str]:
    """``{"size": 64, "style_blend": [1, 2], "photorealistic": True}`` -> ``["--size", "64",
    "--style-blend", "1", "2", "--photorealistic"]``: what cli/options.py parses back. A bool is
    a flag alone (store_true), so every bool setting defaults to False, and a changed one is
    True."""
    flags: list[str] = []
    for name, value in changes.items():
        flags.append("--" + name.replace("_", "-"))
        if isinstance(value, bool):
            if not value:
                raise ValueError(f"{name} is False: a flag can only be given, not taken away")
            continue
        flags += [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return flags
