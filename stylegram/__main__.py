"""`python -m stylegram`: the command line, with a Ctrl-C at any moment kept to one line."""

import signal
import sys

_interrupted = False


def _on_sigint(signum, frame) -> None:
    """Until main() installs its own handlers: note the Ctrl-C, then raise KeyboardInterrupt as
    Python would. A C extension interrupted in its import (numpy's, say) reports it as an
    ImportError, so the note, not the exception's type, says what happened."""
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)
try:
    from .cli import main

    status = main()
except BaseException as exc:  # before main() installed its handlers, or just after it returned
    if not (_interrupted or isinstance(exc, KeyboardInterrupt)):
        raise
    print("stylegram: interrupted", file=sys.stderr)
    status = 130
signal.signal(
    signal.SIGINT, signal.SIG_DFL
)  # from here on a Ctrl-C ends the process, without a traceback
sys.exit(status)
