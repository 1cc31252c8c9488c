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

import errno
import fnmatch
import glob
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


def resolved(path: str | os.PathLike) -> Path:
    """`path` absolute, with symlinks followed (those that exist) and ``..`` removed."""
    return Path(os.path.realpath(os.fspath(path)))


def folder_of(path: str | os.PathLike) -> Path:
    """The folder of `path` as the system finds it, for a temporary file beside `path`: tempfile
    folds "link/.." as text, not through the link, and would aim elsewhere."""
    parent = Path(path).parent
    return resolved(parent if str(parent) else ".")


def identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of an existing file: the same for its hard links; None if there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def temporaries(path: Path, *, pattern: bool = False) -> Path:
    """The glob of the temporary files `path` is written through (image.write_atomic makes
    ".NAME.PID.XXXXXXXX.tmp" beside it): declared with every write, and cleaned up by this name.
    With `pattern`, `path`'s name is itself a glob (``*`` for any text), for a family of files."""
    name = path.name if pattern else glob.escape(path.name)
    return path.parent / f".{name}.*.tmp"


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
    # (device, inode) of the file there now: hard links, and bind mounts realpath cannot see through.
    ident: tuple[int, int] | None = field(default=None, compare=False)

    @staticmethod
    def of(option: str, path: str | os.PathLike, **kind) -> Entry:
        p = Path(path)
        place = resolved(p.parent) / p.name
        if kind.get("family"):
            return Entry(option, p, place, place, **kind)
        real = resolved(p)
        return Entry(option, p, real, place, **kind, ident=identity(real))

    def names(self, real: Path) -> bool:
        """Whether the written name (or family) `self` is the resolved path `real` itself (not
        the file a link of that name points to: a write replaces the link)."""
        if self.family:
            return real.parent == self.place.parent and fnmatch.fnmatchcase(
                real.name, self.place.name
            )
        return real == self.place

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

    def write(self, option: str, path: str | os.PathLike, *, temporary: bool = True) -> None:
        """A file the run writes, and the temporary files it is written through
        (image.write_atomic); without `temporary`, the caller declares those for many names at
        once with `write_family` (one glob per name made 100,000 snapshots take minutes)."""
        p = Path(path)
        self.writes.append(Entry.of(option, p))
        if temporary:
            self.writes.append(
                Entry.of(f"{option} (its temporary file)", temporaries(p), family=True)
            )

    def write_family(self, option: str, pattern: str | os.PathLike) -> None:
        """Files whose names match `pattern` (``*`` for any text), in its folder."""
        self.writes.append(Entry.of(option, pattern, family=True))

    def own(
        self, option: str, path: str | os.PathLike, what: str, *, replaced: bool = False
    ) -> None:
        """A folder that is the run's own: nothing it reads may be inside it; a `replaced` one
        holds nothing else the run keeps either."""
        self.owned.append(Entry.of(option, path, what=what, replaced=replaced))

    def check(self) -> None:
        """Raise ValueError, in one line naming both paths, if a write would touch a read."""
        reads = _Reads(self.reads)
        listings: dict[Path, list[Path]] = {}
        for out in self.writes:
            _check_writable_kind(out, listings)
            source = reads.overwritten_by(out)
            if source is not None:
                raise ValueError(
                    f"{out.said()} would overwrite {source.said()}, which this run reads; choose"
                    f" another {_flag(out)}"
                )
        for folder in self.owned:
            for source in self.reads:
                if inside(source.real, folder.real):
                    raise ValueError(
                        f"{folder.said()} is the folder this run {folder.what}, and {source.said()}"
                        f" is inside it; choose another {_flag(folder)}"
                    )
            for scanned in self.read_folders:
                if inside(scanned.real, folder.real):
                    raise ValueError(
                        f"{folder.said()} is the folder this run {folder.what}, and the folder"
                        f" {scanned.said()} is inside it; choose another {_flag(folder)}"
                    )
            for other in self.owned + self.writes if folder.replaced else []:
                if other is not folder and inside(other.place, folder.real):
                    raise ValueError(
                        f"{folder.said()} is replaced as a whole by this run, and {other.said()} is"
                        f" inside it; choose another {_flag(other)}"
                    )

    def skips(self, path: str | os.PathLike) -> bool:
        """Whether a scan of a read folder passes `path` over: what the run itself writes there
        (not a file that a link of a written name points to: the write replaces the link)."""
        real = resolved(path)
        return any(inside(real, folder.real) for folder in self.owned) or any(
            out.names(real) for out in self.writes
        )


class _Reads:
    """A plan's reads indexed by resolved path, identity and folder, so that a run declaring
    thousands of files (a batch) checks each write against them at once: a write against every
    read in turn took 79 s for 2,000 jobs."""

    def __init__(self, reads: list[Entry]) -> None:
        self.by_real: dict[Path, int] = {}
        self.by_ident: dict[tuple[int, int], int] = {}
        self.by_folder: dict[Path, list[int]] = {}
        self.reads = reads
        for k, source in enumerate(reads):
            self.by_real.setdefault(source.real, k)
            if source.ident is not None:
                self.by_ident.setdefault(source.ident, k)
            self.by_folder.setdefault(source.real.parent, []).append(k)

    def overwritten_by(self, out: Entry) -> Entry | None:
        """The first read (in the order declared) that `out` would write over: the name itself,
        the file a link of that name points to, or another name of the same file."""
        if out.family:
            found = [
                k for k in self.by_folder.get(out.place.parent, ()) if out.names(self.reads[k].real)
            ]
        else:
            found = [
                k
                for k in (
                    self.by_real.get(out.place),
                    self.by_real.get(out.real),
                    self.by_ident.get(out.ident) if out.ident is not None else None,
                )
                if k is not None
            ]
        return self.reads[min(found)] if found else None


def _check_writable_kind(out: Entry, listings: dict[Path, list[Path]]) -> None:
    """A written name may be missing, a regular file, or a link to one: not a folder, a pipe or a
    device, which an atomic write would replace (as root, even /dev/null). `listings` keeps each
    folder's contents, listed once per check."""
    if out.family:
        folder = out.place.parent
        if folder not in listings:
            try:
                listings[folder] = list(folder.iterdir())
            except OSError:  # no folder yet: nothing there to replace
                listings[folder] = []
        found = {p for p in listings[folder] if fnmatch.fnmatchcase(p.name, out.place.name)}
    else:
        found = {out.place, out.real}
    for path in found:
        try:
            mode = os.stat(path).st_mode
        except OSError:  # missing, or a name the system refuses: the writer's own check says so
            continue
        if stat.S_ISDIR(mode):
            raise ValueError(
                f"{out.said()}: is a folder, and this run writes a file there; move it or choose"
                f" another {_flag(out)}"
            )
        if not stat.S_ISREG(mode):
            raise ValueError(
                f"{out.said()}: is {_kind(mode)}, not a file; choose another {_flag(out)}"
            )


def _kind(mode: int) -> str:
    return "a pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"


def _flag(entry: Entry) -> str:
    """The option to change: "-o" for "-o (its checkpoint)"."""
    return entry.option.split(" (")[0]


def readable_file(path: str | os.PathLike, what: str = "file") -> Path:
    """`path` if it is a regular file that can be opened; else ValueError saying what it is.

    Pipes, sockets and devices are refused: stylegram reads an input more than once (its header,
    then its pixels), and opening a FIFO with no writer would block forever.
    """
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
        raise ValueError(
            f"'{p}': is {_kind(st.st_mode)}, which can be read only once; save it to a file first"
        )
    return p


def read_own(path: str | os.PathLike) -> bytes:
    """The bytes of a file a run wrote earlier (a manifest, a record, a cache chunk), without
    ever blocking: a FIFO, socket or device put there raises OSError instead of waiting for a
    writer, and the callers treat it as a damaged file."""
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, f"is {_kind(mode)}, not a file", str(path))
        return f.read()
