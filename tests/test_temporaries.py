"""write_atomic's temporary files: a killed writer's are removed on the next write of the same
file, and nothing else is: not a live writer's, not another file's, not a look-alike."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from stylegram.image import (
    STALE_AFTER_S,
    mark_temporary,
    remove_stale_temporaries,
    write_text_atomic,
)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_only_a_dead_or_long_idle_writers_temporaries_go(tmp_path):
    out = tmp_path / "out.png"
    old = time.time() - STALE_AFTER_S - 60
    names = {
        f".out.png.{_dead_pid()}.abcd1234.tmp": True,  # its writer is gone
        f".out.png.{os.getppid()}.abcd1234.tmp": False,  # a live writer (this test's parent)
        ".out.png.k3j_9x0q.tmp": False,  # the old pattern, recently touched: maybe live
        ".out.png.zzzz0000.tmp": True,  # the old pattern, untouched for long
        f".other.png.{_dead_pid()}.abcd1234.tmp": False,  # another file's
        ".out.png.backup.tmp": False,  # not our pattern
        "out.png.12.abcd1234.tmp": False,  # not hidden: not ours
    }
    for name in names:
        (tmp_path / name).write_text("x")
        mark_temporary(tmp_path / name)  # as write_atomic marks its own
    os.utime(tmp_path / ".out.png.zzzz0000.tmp", (old, old))
    removed = {p.name for p in remove_stale_temporaries(out)}
    assert removed == {name for name, gone in names.items() if gone}
    assert {p.name for p in tmp_path.iterdir()} == {
        name for name, gone in names.items() if not gone
    }


def test_the_next_write_cleans_up(tmp_path):
    out = tmp_path / "notes.txt"
    leftover = tmp_path / f".notes.txt.{_dead_pid()}.abcd1234.tmp"
    leftover.write_text("half")
    mark_temporary(leftover)
    write_text_atomic("done", out)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and out.read_text() == "done"


def test_a_name_with_glob_characters(tmp_path):
    out = tmp_path / "a[1]*.png"
    ours, other = f".a[1]*.png.{_dead_pid()}.abcd1234.tmp", f".a1x.png.{_dead_pid()}.abcd1234.tmp"
    for name in (ours, other):
        (tmp_path / name).write_text("half")
        mark_temporary(tmp_path / name)
    assert [p.name for p in remove_stale_temporaries(out)] == [ours]
    assert [p.name for p in tmp_path.iterdir()] == [other]


def test_a_file_with_a_temporary_name_but_no_mark_is_never_removed(tmp_path):
    """Issue 23: a photo or a note named like a leftover was deleted by the next write."""
    photo = tmp_path / f".out.png.{_dead_pid()}.abcdefgh.tmp"
    photo.write_text("a user's file")
    old = time.time() - STALE_AFTER_S - 60
    os.utime(photo, (old, old))
    write_text_atomic("done", tmp_path / "out.png")
    assert photo.read_text() == "a user's file"


def test_a_write_cleans_up_the_leftovers_of_every_name_in_its_folder(tmp_path):
    """A folder is swept of every name's leftovers at its first write (then at most every
    SWEEP_EVERY_S), so thousands of writes into one folder list it once, not each time."""
    dead = _dead_pid()
    leftovers = [tmp_path / f".{name}.{dead}.abcd1234.tmp" for name in ("a.png", "b.v2.png")]
    live = tmp_path / f".c.png.{os.getppid()}.abcd1234.tmp"
    for path in [*leftovers, live]:
        path.write_text("half")
        mark_temporary(path)
    write_text_atomic("done", tmp_path / "notes.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "notes.txt"]
