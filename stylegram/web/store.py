"""The persisted jobs: one folder per job in the data dir, its record in job.json.

    DATA/jobs/<id>/job.json      the record: state, progress, settings (written atomically)
                   content.png   the inputs, re-encoded from the checked uploads
                   style_0.png ...  mask_0.png ...
                   content_seg.png  style_seg.png   (photo to photo's segmentations, when sent)
                   current.png   the latest preview of a running job (the worker writes it)
                   result.png    the finished picture, with its settings in PNG text chunks

Only the server process writes job.json; the worker process writes only images. A job is made
in a hidden folder and renamed into place, so a failed upload leaves nothing behind.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import json
import re
import secrets
import shutil
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image

from ..files import read_own
from ..image import write_text_atomic
from ..transfer.config import StyleConfig

# A job is queued, running, or one of these.
FINISHED = ("done", "failed", "cancelled", "interrupted")
JOB_ID = re.compile(r"^[0-9a-f]{16}$")
INPUT_FILE = re.compile(r"^(content|style_\d{1,2}|mask_\d{1,2}|content_seg|style_seg)\.png$")


LEFTOVER = re.compile(r"^\.new-(del-)?[0-9a-f]{16}$")
# The files of a job folder, and write_atomic's temporaries of them.
JOB_FILE = re.compile(
    r"^\.?((content|style_\d{1,2}|mask_\d{1,2}|content_seg|style_seg|current|result)\.png"
    r"|job\.json)"
    r"(\.\d+\.[a-z0-9_]{8}\.tmp)?$"
)


# The segmentations' files in a job folder, by their StyleConfig field (and form field).
SEGMENTATIONS = {"content_seg": "content_seg.png", "style_seg": "style_seg.png"}


def mask_name(i: int) -> str:
    """The file of painting i's mask in a job folder, and its name in the job's command."""
    return f"mask_{i}.png"


def with_inputs(
    config: StyleConfig,
    masks: int,
    segmentations: Iterable[str] = (),
    folder: Path | None = None,
) -> StyleConfig:
    """`config` with the job's files named: `masks` masks and the `segmentations` (fields of
    SEGMENTATIONS), in `folder` for the worker, bare for the command (they download beside
    it). Checked as StyleConfig checks them, so that an upload with one segmentation, or with
    masks and segmentations, is refused in the CLI's words."""

    def at(name: str) -> str:
        return name if folder is None else str(folder / name)

    changes: dict[str, Any] = {}
    if masks:
        changes["style_masks"] = tuple(f"{i}={at(mask_name(i))}" for i in range(masks))
    changes.update({field: at(SEGMENTATIONS[field]) for field in segmentations})
    return replace(config, **changes) if changes else config


def _leftover_of_ours(folder: Path) -> bool:
    """A half-made or half-deleted job folder of the store's: its name and every file in it are
    the store's own (anything else there was not written by the studio, and stays)."""
    try:
        return (
            LEFTOVER.match(folder.name) is not None
            and folder.is_dir()
            and not folder.is_symlink()
            and all(JOB_FILE.match(p.name) and p.is_file() for p in folder.iterdir())
        )
    except OSError:
        return False


class JobStore:
    """The jobs in `root`, cached in memory; every change is written through to job.json."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)
        self.jobs: dict[str, dict[str, Any]] = {}
        for path in sorted(self.root.glob("*/job.json")):
            if (
                path.parent.is_symlink() or path.is_symlink()
            ):  # a link to a folder elsewhere is no job of ours
                continue
            try:
                record = json.loads(read_own(path).decode("utf-8"))
            except (OSError, ValueError):
                continue  # written atomically, so only a foreign file can be unreadable
            if JOB_ID.match(record.get("id", "")) and path.parent.name == record["id"]:
                self.jobs[record["id"]] = record
        for leftover in self.root.glob(
            ".new-*"
        ):  # a job folder whose upload or deletion did not finish
            if _leftover_of_ours(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
        self._seq = itertools.count(max((j["seq"] for j in self.jobs.values()), default=0) + 1)

    def dir(self, job_id: str) -> Path:
        return self.root / job_id

    def create(
        self,
        content: Image.Image,
        styles: list[Image.Image],
        masks: list[Image.Image] | None,
        segmentations: tuple[Image.Image, Image.Image] | None,
        config: dict[str, Any],
        names: dict[str, Any],
        command: str,
    ) -> dict[str, Any]:
        """Write the inputs and a queued record; return the record."""
        job_id = secrets.token_hex(8)
        tmp = self.root / f".new-{job_id}"
        tmp.mkdir()
        try:
            content.save(tmp / "content.png")
            for i, im in enumerate(styles):
                im.save(tmp / f"style_{i}.png")
            for i, im in enumerate(masks or []):
                im.save(tmp / mask_name(i))
            for im, name in zip(segmentations or (), SEGMENTATIONS.values(), strict=False):
                im.save(tmp / name)
            record = {
                "id": job_id,
                "seq": next(self._seq),
                "state": "queued",
                "created": time.time(),
                "started": None,
                "finished": None,
                "step": 0,
                "steps": None,
                "scale": None,
                "n_scales": None,
                "size": None,
                "losses": None,
                "error": None,
                "preview": 0,
                "resumed": 0,
                "config": config,
                "names": names,
                "n_styles": len(styles),
                "masks": bool(masks),
                "segmentations": segmentations is not None,
                "command": command,
            }
            write_text_atomic(json.dumps(record), tmp / "job.json")
            tmp.rename(self.dir(job_id))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.jobs[job_id] = record
        return record

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.jobs.get(job_id) if JOB_ID.match(job_id) else None

    def list(self) -> list[dict[str, Any]]:
        return sorted(self.jobs.values(), key=lambda j: j["seq"])

    def update(self, job_id: str, *, persist: bool = True, **changes: Any) -> dict[str, Any]:
        """Change a record; `persist=False` keeps the change in memory until the next write."""
        record = {**self.jobs[job_id], **changes}
        if persist:
            write_text_atomic(json.dumps(record), self.dir(job_id) / "job.json")
        self.jobs[job_id] = record
        return record

    def delete(self, job_id: str) -> None:
        """Remove the job's own files (job.json first: a half-deleted job never lists), then its
        folder if nothing else is in it: a file put there by someone else stays."""
        del self.jobs[job_id]
        folder = self.dir(job_id)
        if folder.is_symlink():  # never loaded as a job (above); nothing of ours is behind it
            return
        (folder / "job.json").unlink(missing_ok=True)
        for path in folder.iterdir():
            if JOB_FILE.match(path.name) and path.is_file() and not path.is_symlink():
                path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()

    def next_queued(self) -> dict[str, Any] | None:
        queued = [j for j in self.list() if j["state"] == "queued"]
        return queued[0] if queued else None

    def recover(self) -> builtins.list[str]:  # plain `list` here is the method above
        """After a restart: a job that was running is queued again, resuming from its last saved
        preview when there is one, and marked interrupted when it cannot run again."""
        recovered = []
        for job in self.list():
            if job["state"] != "running":
                continue
            if job["resumed"] >= 3:  # it keeps dying with the server; do not loop forever
                self.update(
                    job["id"],
                    state="interrupted",
                    finished=time.time(),
                    error=f"interrupted by {job['resumed'] + 1} server restarts",
                )
            else:
                saved = (self.dir(job["id"]) / "current.png").exists()
                self.update(
                    job["id"],
                    state="queued",
                    resumed=job["resumed"] + 1,
                    resume_from_image=saved,
                    error=None,
                )
            recovered.append(job["id"])
        return recovered
