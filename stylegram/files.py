"""What a command reads and what it may write, and the one check between them.

Before any work, a command lists every path it will read and every path it may write or delete
in a `FilePlan`; `FilePlan.check` then refuses, in one line naming both paths and the options
that name them, any run that would write over something it reads. The guarantee this keeps
(docs/robustness.md): no run writes over a file it reads, and a run deletes only what it wrote.

Paths are compared resolved: symlinks followed, ``..`` removed, and existing files also by
`os.path.samefile` (hard links). Four kinds of entry:

- ``read``: a file the command reads;
- ``read_folder``: a folder it scans recursively; its scan skips what the plan writes (`skips`);
- ``write``: a file it may write or replace; a name may hold ``*`` for a family of files whose
  numbers are not known in advance (``out_*.png``);
- ``own``: a folder the command fills, empties or replaces as a whole (a cache, frames).

The ground of the package: this module imports nothing of stylegram's.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path


def resolved(path: str | os.PathLike) -> Path:
    """`path` absolute, with symlinks followed (those that exist) and ``..`` removed."""
    return Path(os.path.realpath(os.fspath(path)))


def inside(path: Path, folder: Path) -> bool:
    """Whether resolved `path` is `folder` or lies below it."""
    return path == folder or folder in path.parents


@dataclass(frozen=True)
class Entry:
    option: str  # how the user named it: "-o", "--init", "the photo", ...
    path: Path  # as given, for messages
    real: Path = field(compare=False)  # resolved
    what: str = ""  # for an owned folder: what the run does with it, "keeps its cache in"
    # The name itself in its resolved folder: a link there is replaced by an atomic write, and
    # its target kept, so a written name stands for both the link and the file it points to.
    place: Path | None = field(default=None, compare=False)

    @staticmethod
    def of(option: str, path: str | os.PathLike, what: str = "") -> "Entry":
        p = Path(path)
        place = resolved(p.parent) / p.name
        if "*" in p.name:  # a family of names: resolve the folder, keep the pattern
            return Entry(option, p, place, what, place)
        return Entry(option, p, resolved(p), what, place)

    def matches(self, real: Path) -> bool:
        """Whether the written name (or family) `self` is the resolved file `real`."""
        if "*" in self.real.name:
            return real.parent == self.real.parent and fnmatch.fnmatchcase(real.name, self.real.name)
        if real in (self.real, self.place):
            return True
        try:  # hard links, and bind mounts that realpath cannot see through
            return os.path.samefile(real, self.real)
        except OSError:
            return False

    def said(self) -> str:
        return f"'{self.path}' ({self.option})"


@dataclass
class FilePlan:
    """The paths one run reads and writes. Declare them all, then `check()` before any work."""

    reads: list[Entry] = field(default_factory=list)
    read_folders: list[Entry] = field(default_factory=list)
    writes: list[Entry] = field(default_factory=list)
    owned: list[Entry] = field(default_factory=list)

    def read(self, option: str, path: str | os.PathLike | None) -> None:
        if path is not None:
            self.reads.append(Entry.of(option, path))

    def read_folder(self, option: str, path: str | os.PathLike) -> None:
        self.read_folders.append(Entry.of(option, path))

    def write(self, option: str, path: str | os.PathLike) -> None:
        self.writes.append(Entry.of(option, path))

    def own(self, option: str, path: str | os.PathLike, what: str) -> None:
        """A folder that is the run's own: nothing it reads may be inside it."""
        self.owned.append(Entry.of(option, path, what))

    def check(self) -> None:
        """Raise ValueError, in one line naming both paths, if a write would touch a read."""
        for out in self.writes:
            if out.real.is_dir() and "*" not in out.real.name:
                raise ValueError(f"{out.said()}: is a folder, and this run writes a file there; move it or choose"
                                 f" another {_flag(out)}")
            for source in self.reads:
                if out.matches(source.real):
                    raise ValueError(f"{out.said()} would overwrite {source.said()}, which this run reads; choose"
                                     f" another {_flag(out)}")
        for folder in self.owned:
            for source in self.reads:
                if inside(source.real, folder.real):
                    raise ValueError(f"{folder.said()} is the folder this run {folder.what}, and {source.said()}"
                                     f" is inside it; choose another {_flag(folder)}")
            for scanned in self.read_folders:
                if inside(scanned.real, folder.real):
                    raise ValueError(f"{folder.said()} is the folder this run {folder.what}, and the folder"
                                     f" {scanned.said()} is inside it; choose another {_flag(folder)}")

    def skips(self, path: str | os.PathLike) -> bool:
        """Whether a scan of a read folder passes `path` over: the run's own output, which a
        rerun would otherwise read as input."""
        real = resolved(path)
        return (any(inside(real, folder.real) for folder in self.owned)
                or any(out.matches(real) for out in self.writes))


def _flag(entry: Entry) -> str:
    """The option to change: "-o" for "-o (its checkpoint)"."""
    return entry.option.split(" (")[0]


def readable_file(path: str | os.PathLike, what: str = "file") -> Path:
    """`path` if it is a regular file that can be opened; else ValueError saying what it is.

    Pipes, sockets and devices are refused: stylegram reads an input more than once (its header,
    then its pixels), and opening a FIFO with no writer would block forever.
    """
    import errno
    import stat

    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError(f"'{p}': a loop of symbolic links, not a {what}") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ValueError(f"'{p}': permission denied") from None
        if exc.errno == errno.ENOTDIR:
            raise ValueError(f"'{p}': no such {what} (a part of the path is a file)") from None
        raise ValueError(f"'{p}': no such file") from None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"'{p}': is a folder, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a pipe" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device")
        raise ValueError(f"'{p}': is {kind}, which can be read only once; save it to a {what} first")
    return p
