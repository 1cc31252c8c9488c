"""The command's entry points: the installed script and `python -m stylegram` run `cli.run`."""

from __future__ import annotations

import gc
import runpy
import signal
from importlib.metadata import entry_points

import pytest

from stylegram import cli


def test_the_script_and_python_m_run_the_command_through_run(monkeypatch):
    (script,) = entry_points(group="console_scripts", name="stylegram")  # as installed
    assert script.value == "stylegram.cli:run"
    monkeypatch.setattr(cli, "run", lambda: 7)
    handler = signal.getsignal(signal.SIGINT)  # __main__ leaves Ctrl-C to the OS at its end
    try:
        with pytest.raises(SystemExit) as stop:
            runpy.run_module("stylegram", run_name="__main__")
    finally:
        signal.signal(signal.SIGINT, handler)
    assert stop.value.code == 7


def test_run_returns_mains_status_and_freezes_what_is_left_for_the_exit(monkeypatch):
    """The interpreter's exit then skips the garbage collector's passes over torch's objects
    (0.34 → 0.14 s after a 512-px job); `main`, which tests and programs call, freezes nothing."""
    gc.unfreeze()
    main = cli.main
    monkeypatch.setattr(cli, "main", lambda: 3)
    try:
        assert cli.run() == 3
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert main(["layers"]) == 0 and gc.get_freeze_count() == 0
