"""Command-line options built from a config dataclass, so that CLI and API cannot drift apart.

Each field becomes ``--field-name``, typed, with its help, its default and its limits.
"""

from __future__ import annotations

import argparse
import typing
from dataclasses import MISSING, fields

from ..settings import field_types


def _limits(meta: typing.Mapping) -> str:
    parts = []
    if meta.get("min") is not None:
        parts.append(f"≥ {meta['min']}")
    if meta.get("max") is not None:
        parts.append(f"≤ {meta['max']}")
    if meta.get("positive"):
        parts.append("> 0")
    return ", ".join(parts)


def add_config_options(parser: argparse.ArgumentParser, config_cls: type) -> None:
    """One --option per field of `config_cls`, in a group named after it."""
    group = parser.add_argument_group(f"settings (the fields of {config_cls.__name__})")
    types = field_types(config_cls)
    for f in fields(config_cls):
        hint, _ = types[f.name]
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:  # settings.option() always gives one
            raise TypeError(f"{config_cls.__name__}.{f.name} has no default")
        kw: dict = {"help": f.metadata.get("help", ""), "dest": f.name}
        if hint is bool:
            kw["action"] = "store_true"
        else:
            origin, args = typing.get_origin(hint), typing.get_args(hint)
            if origin is tuple:
                hint, origin, args = args[0], None, ()
                kw["nargs"] = "+"
            if origin is typing.Literal:
                kw.update(choices=args, type=type(args[0]))
            else:
                kw.update(type=hint, metavar=f.metadata.get("metavar"))
            limits = _limits(f.metadata)
            if default not in (None, ()) and "default" not in kw["help"]:
                shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
                kw["help"] += f" (default: {shown}{'; ' + limits if limits else ''})"
            elif limits:
                kw["help"] += f" ({limits})"
        flags = ["--" + f.name.replace("_", "-"), *f.metadata.get("aliases", ())]
        group.add_argument(*flags, default=argparse.SUPPRESS, **kw)


def config_from_args(args: argparse.Namespace, config_cls: type):
    """The dataclass built from parsed options; fields not given keep their defaults."""
    given = {f.name: getattr(args, f.name) for f in fields(config_cls) if hasattr(args, f.name)}
    return config_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in given.items()})
