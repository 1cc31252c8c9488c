"""The resumable record of a batch, ``OUTDIR/batch.jsonl``: one JSON line per finished or failed job.

Lines are only appended, one ``write`` each, flushed and synced before the next job is counted
as done, so an interrupted batch loses at most the line being written. A torn last line (a crash
mid-write) is ignored when reading. The last line of a key wins: a job that failed and then
succeeded on a rerun is done.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ..files import read_own
from .jobs import Job, Outcome, settings_of

MANIFEST = "batch.jsonl"


def record(job: Job, outcome: Outcome) -> dict:
    return {
        "output": job.output,
        "key": job.key,
        "content": job.content.record(),
        "style": job.style.record(),
        "setting": job.setting,
        "settings": settings_of(job.config),
        "seconds": round(outcome.seconds, 3),
        "error": outcome.error,
    }


class Manifest:
    """``OUTDIR/batch.jsonl``, read once at the start and appended to after every job."""

    def __init__(self, outdir: str | os.PathLike) -> None:
        self.path = Path(outdir) / MANIFEST

    def read(self) -> list[dict]:
        """Every whole line, oldest first."""
        if not self.path.is_file():
            return []
        try:
            text = read_own(self.path).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = (
                "not a text file"
                if isinstance(exc, UnicodeDecodeError)
                else exc.strerror or str(exc)
            )
            raise ValueError(
                f"'{self.path}': cannot read the batch's record ({reason}); move it away to start"
                " the batch afresh"
            ) from None
        lines = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                lines.append(entry)
        return lines

    def check(self) -> None:
        """Refuse, before any work, a record that is not a plain file of its own: appending to a
        link, or to a file with another name (a hard link), would change another file."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            kind = "a link" if stat.S_ISLNK(st.st_mode) or st.st_nlink > 1 else "not a plain file"
            raise ValueError(
                f"'{self.path}': is {kind}; the batch appends its record there and would change"
                " another file; move it away"
            )

    def done(self) -> set[str]:
        """The keys of jobs whose last record is a success and whose output is still there."""
        last = {entry["key"]: entry for entry in self.read()}
        return {
            key
            for key, entry in last.items()
            if entry.get("error") is None
            and (self.path.parent / str(entry.get("output"))).is_file()
        }

    def append(self, entry: dict) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
            with open(fd, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise ValueError(f"'{self.path}': cannot write ({exc.strerror or exc})") from None
