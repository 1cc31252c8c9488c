"""Batch jobs: every content with every style (or pairwise), times a sweep of settings; their
output names and keys, and the one function that runs a job from image bytes to PNG bytes.

A job's key hashes its inputs' contents and its full settings, so the manifest can tell a job
already done from one whose images or settings changed, whatever the files are called.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import time
import typing
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from PIL import Image

from ..files import readable_file
from ..geometry import Precision
from ..settings import ConfigError, field_types
from ..transfer import Iterate, StyleConfig, stylize
from ..transfer.config import PER_PHOTO_FILES, check_size, check_styles, min_side
from ..units.scan import list_images
from ..vgg import VGG, Pooling, network_for
from ..weights import load_vgg

# Settings that name files or the machine: they cannot differ per job, or cannot travel as bytes.
NOT_SWEEPABLE = ("weights", "device", "init", *PER_PHOTO_FILES)


@dataclass(frozen=True)
class Input:
    """An input image: where it is and what it holds."""

    path: Path
    sha256: str

    @staticmethod
    def of(path: Path) -> Input:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ValueError(f"'{path}': cannot read ({exc.strerror or exc})") from None
        return Input(path, hashlib.sha256(data).hexdigest())

    def record(self) -> dict:
        return {"path": str(self.path), "sha256": self.sha256}


@dataclass(frozen=True)
class Job:
    """One style transfer of a batch."""

    content: Input
    style: Input
    config: StyleConfig
    setting: str  # the swept values as a file-name part, e.g. "size-256"; "" without --sweep

    @property
    def output(self) -> str:
        """The output's file name, ``<content>__<style>[__<setting>].png``."""
        name = f"{self.content.path.stem}__{self.style.path.stem}"
        return f"{name}__{self.setting}.png" if self.setting else f"{name}.png"

    @property
    def key(self) -> str:
        """What makes two jobs the same: the inputs' contents and every setting."""
        text = json.dumps(
            [self.content.sha256, self.style.sha256, settings_of(self.config)], sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Task:
    """A job as it travels to an engine: image bytes and plain settings, no paths to read."""

    key: str
    content_name: str
    content: bytes
    style_name: str
    style: bytes
    settings: dict


@dataclass(frozen=True)
class Outcome:
    """What came back: the PNG bytes, or the error that stopped the job."""

    key: str
    png: bytes | None
    error: str | None
    seconds: float


def settings_of(config: StyleConfig) -> dict:
    """Every setting as JSON-ready values (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def input_files(
    sources: Sequence[str | os.PathLike], what: str, skip: Callable[[Path], bool] | None = None
) -> list[Path]:
    """Each source a file or a folder of images (read recursively, sorted, without what `skip`
    names), in order."""
    if not sources:
        raise ValueError(f"give at least one {what} image or folder")
    paths: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            paths += list_images(path, skip)
        else:
            paths.append(
                readable_file(path)
            )  # a pipe or a loop of links says so, not "no such file"
    return paths


def _parse_value(raw: str, hint: typing.Any, optional: bool) -> typing.Any:
    if optional and raw.lower() == "none":
        return None
    if hint is bool:
        if raw.lower() not in ("true", "false"):
            raise ValueError(f"{raw!r} is not true or false")
        return raw.lower() == "true"
    if hint in (int, float):
        try:
            return hint(raw)
        except ValueError:
            raise ValueError(
                f"{raw!r} is not a {'whole number' if hint is int else 'number'}"
            ) from None
    return raw


def parse_sweep(spec: str, base: StyleConfig) -> list[tuple[str, dict]]:
    """``FIELD=V1,V2`` as (file-name label, settings) per value, each value checked by StyleConfig."""
    name, eq, values = spec.partition("=")
    field = name.strip().lstrip("-").replace("-", "_")
    if not eq or not values.strip():
        raise ConfigError("sweep", f"{spec!r}: write FIELD=V1,V2,..., e.g. style_weight=0.5,2")
    types = field_types(StyleConfig)
    sweepable = [
        f.name
        for f in fields(StyleConfig)
        if f.name not in NOT_SWEEPABLE and typing.get_origin(types[f.name][0]) is not tuple
    ]
    if field not in sweepable:
        why = "cannot be swept" if field in types else "is not a stylize setting"
        raise ConfigError("sweep", f"{spec!r}: '{field}' {why}; choose from {', '.join(sweepable)}")
    out: list[tuple[str, dict]] = []
    raws: list[str] = []
    for raw in (v.strip() for v in values.split(",")):
        try:
            value = _parse_value(raw, *types[field])
            replace(base, **{field: value})
        except ConfigError as exc:
            raise ConfigError("sweep", f"{field}={raw}: {exc.problem}") from None
        except ValueError as exc:
            raise ConfigError("sweep", f"{field}={raw}: {exc}") from None
        same = next(
            (
                earlier
                for earlier, (_, settings) in zip(raws, out, strict=True)
                if settings[field] == value
            ),
            None,
        )
        if same is not None:  # 64,64 or 1e5,100000: one job under two names
            raise ConfigError(
                "sweep", f"{spec!r}: {raw} repeats the value {same}; give each value once"
            )
        raws.append(raw)
        out.append((f"{field}-{re.sub(r'[^A-Za-z0-9.+-]', '_', raw)}", {field: value}))
    return out


def make_jobs(
    contents: Sequence[Path],
    styles: Sequence[Path],
    base: StyleConfig,
    *,
    pairwise: bool = False,
    sweeps: Sequence[str] = (),
) -> list[Job]:
    """Every job of a batch, checked before any work: settings, sweeps, and distinct output names."""
    given = [name for name in PER_PHOTO_FILES if getattr(base, name)]
    if given:
        raise ConfigError(given[0], "is drawn for one content image; a batch of them cannot use it")
    if base.init not in ("content", "random"):
        raise ConfigError(
            "init", f"'{base.init}': a batch starts from 'content' or 'random', not a file"
        )
    check_styles(base, 1)  # one style per job
    if pairwise and len(contents) != len(styles):
        raise ConfigError(
            "zip",
            f"pairs contents with styles one to one, but there are {len(contents)} contents "
            f"and {len(styles)} styles",
        )
    axes = [parse_sweep(spec, base) for spec in sweeps]
    settings = [
        ("_".join(label for label, _ in combo), {k: v for _, d in combo for k, v in d.items()})
        for combo in itertools.product(*axes)
    ]
    hashed = {p: Input.of(p) for p in {*contents, *styles}}
    pairs = zip(contents, styles, strict=True) if pairwise else itertools.product(contents, styles)
    jobs = [
        Job(hashed[c], hashed[s], replace(base, **values), label)
        for c, s in pairs
        for label, values in settings
    ]
    seen: dict[str, Job] = {}
    for job in jobs:
        if job.output in seen:
            other = seen[job.output]
            if (other.content.path, other.style.path) == (job.content.path, job.style.path):
                raise ValueError(
                    f"'{job.output}': two jobs would write it: the same photo and painting with the same"
                    " settings (a value repeated in a sweep, or a file given twice)"
                )
            raise ValueError(
                f"'{job.output}': two jobs would write it ({other.content.path} with {other.style.path},"
                f" and {job.content.path} with {job.style.path}); rename one of the files"
            )
        seen[job.output] = job
    return jobs


def task_of(job: Job) -> Task:
    """The job with its images read into memory, ready to travel."""

    def read(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError:
            return b""  # gone since the plan: the job fails with "not an image", the batch goes on

    return Task(
        job.key,
        str(job.content.path),
        read(job.content.path),
        str(job.style.path),
        read(job.style.path),
        settings_of(job.config),
    )


def image_from_bytes(data: bytes, name: str) -> Image.Image:
    """An RGB image from a file's bytes, upright; a ValueError naming the file otherwise (the
    rules of image.open_image, its pixel limit included)."""
    from ..image import decode_image

    return decode_image(data, name)


class Models:
    """VGG networks loaded once and kept, one per (weights, pooling), and their copies in the
    precision a task computes in."""

    def __init__(self) -> None:
        self._nets: dict[tuple, VGG] = {}
        self._copies: dict[tuple, VGG] = {}

    def get(self, weights: str | None, pooling: Pooling = "max") -> VGG:
        if (weights, pooling) not in self._nets:
            self._nets[(weights, pooling)] = load_vgg(weights, pooling=pooling)
        return self._nets[(weights, pooling)]

    def network(self, weights: str | None, precision: Precision) -> VGG:
        """The max-pooling network of `weights` as `vgg.network_for` gives it for `precision`
        (a bf16 or Winograd copy made once, not per task)."""
        if (weights, precision) not in self._copies:
            self._copies[(weights, precision)], _ = network_for(self.get(weights), precision)
        return self._copies[(weights, precision)]


def run_task(
    task: Task, models: Models, *, callback: Callable[[Iterate], None] | None = None
) -> Outcome:
    """Run one job; a user error (an unreadable or too small image) is its outcome, not an exception."""
    start = time.perf_counter()
    try:
        settings: dict[str, typing.Any] = {  # checked by StyleConfig itself
            k: tuple(v) if isinstance(v, list) else v for k, v in task.settings.items()
        }
        config = StyleConfig(**settings)
        content = image_from_bytes(task.content, task.content_name)
        style = image_from_bytes(task.style, task.style_name)
        # Checked here, where the images' names are known; stylize's own check sees only pixels.
        check_size("content image", task.content_name, content.size, min_side(config))
        check_size("style image", task.style_name, style.size, min_side(config))
        result = stylize(
            content,
            [style],
            config,
            model=models.get(config.weights, config.pooling),
            callback=callback,
        )
    except ValueError as exc:
        return Outcome(task.key, None, str(exc), time.perf_counter() - start)
    buffer = io.BytesIO()
    result.save(buffer, format="PNG")
    return Outcome(task.key, buffer.getvalue(), None, time.perf_counter() - start)
