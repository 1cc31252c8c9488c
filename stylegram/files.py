"""What a command reads and what it may write, and the one check between them.

Before any work, a command lists every path it will read and every path it may write or delete
in a `FilePlan`; `FilePlan.check` then refuses, in one line naming both paths and the options
that name them, any run that would write over something it reads. The guarantee this keeps
(docs/robustness.md): no run writes over a file it reads, and a run deletes only what it wrote.

Paths are compared resolved: symlinks followed, ``..`` removed, and existing files also by
`os.path.samefile` (hard links). Four kinds of entry:

- ``read``: a file the command reads;
- ``read_folder``: a folder it scans recursively; its scan skips what the plan writes (`skips`);
- ``write``: a file it may write or replace; ``write_family`` a family of names (``relu*.png``);
- ``own``: a folder the command fills (a report, a cache), or replaces as a whole (frames).

The ground of the package: this module imports nothing of stylegram's.
"""
from __future__ import annotations

import fnmatch
import glob
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
    # The name itself in its resolved folder: a link there is replaced by an atomic write, and
    # its target kept; for overlaps a written name stands for both the link and its target.
    place: Path = field(compare=False)
    what: str = ""  # for an owned folder: what the run does with it, "keeps its cache in"
    family: bool = False  # a written name with `*`: every name it matches
    replaced: bool = False  # an owned folder that the run replaces as a whole

    @staticmethod
    def of(option: str, path: str | os.PathLike, **kind) -> "Entry":
        p = Path(path)
        place = resolved(p.parent) / p.name
        return Entry(option, p, place if kind.get("family") else resolved(p), place, **kind)

    def matches(self, real: Path, *, through_links: bool = True) -> bool:
        """Whether the written name (or family) `self` is the resolved file `real`; with
        `through_links`, also the file a link of that name points to."""
        if self.family:
            return real.parent == self.place.parent and fnmatch.fnmatchcase(real.name, self.place.name)
        if real == self.place or (through_links and real == self.real):
            return True
        try:  # hard links, and bind mounts that realpath cannot see through
            return through_links and os.path.samefile(real, self.real)
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
        """A file the run writes, and the temporary files it is written through (image.write_atomic)."""
        p = Path(path)
        self.writes.append(Entry.of(option, p))
        self.writes.append(Entry.of(f"{option} (its temporary file)", p.parent / f".{glob.escape(p.name)}.*.tmp",
                                    family=True))

    def write_family(self, option: str, pattern: str | os.PathLike) -> None:
        """Files whose names match `pattern` (``*`` for any text), in its folder."""
        self.writes.append(Entry.of(option, pattern, family=True))

    def own(self, option: str, path: str | os.PathLike, what: str, *, replaced: bool = False) -> None:
        """A folder that is the run's own: nothing it reads may be inside it; a `replaced` one
        holds nothing else the run keeps either."""
        self.owned.append(Entry.of(option, path, what=what, replaced=replaced))

    def check(self) -> None:
        """Raise ValueError, in one line naming both paths, if a write would touch a read."""
        for out in self.writes:
            _check_writable_kind(out)
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
            for other in (self.owned + self.writes if folder.replaced else []):
                if other is not folder and inside(other.place, folder.real):
                    raise ValueError(f"{folder.said()} is replaced as a whole by this run, and {other.said()} is"
                                     f" inside it; choose another {_flag(other)}")

    def skips(self, path: str | os.PathLike) -> bool:
        """Whether a scan of a read folder passes `path` over: what the run itself writes there
        (not a file that a link of a written name points to: the write replaces the link)."""
        real = resolved(path)
        return (any(inside(real, folder.real) for folder in self.owned)
                or any(out.matches(real, through_links=False) for out in self.writes))


def _check_writable_kind(out: Entry) -> None:
    """A written name may be missing, a regular file, or a link to one: not a folder, a pipe or a
    device, which an atomic write would replace (as root, even /dev/null)."""
    import stat

    try:
        found = ({p for p in out.place.parent.iterdir() if fnmatch.fnmatchcase(p.name, out.place.name)}
                 if out.family else {out.place, out.real})
    except OSError:  # no folder yet: nothing there to replace
        found = set()
    for path in found:
        try:
            mode = os.stat(path).st_mode
        except OSError:  # missing, or a name the system refuses: the writer's own check says so
            continue
        if stat.S_ISDIR(mode):
            raise ValueError(f"{out.said()}: is a folder, and this run writes a file there; move it or choose"
                             f" another {_flag(out)}")
        if not stat.S_ISREG(mode):
            raise ValueError(f"{out.said()}: is {_kind(mode)}, not a file; choose another {_flag(out)}")


def _kind(mode: int) -> str:
    import stat

    return "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"


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
        raise ValueError(f"'{p}': is {_kind(st.st_mode)}, which can be read only once; save it to a file first")
    return p


def read_own(path: str | os.PathLike) -> bytes:
    """The bytes of a file a run wrote earlier (a manifest, a record, a cache chunk), without
    ever blocking: a FIFO, socket or device put there raises OSError instead of waiting for a
    writer, and the callers treat it as a damaged file."""
    import errno
    import stat

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"is {_kind(mode)}, not a file", str(path))
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    finally:
        os.close(fd)
