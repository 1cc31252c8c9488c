"""`python -m stylegram`: the command line, with a Ctrl-C at any moment kept to one line.

While the CLI's modules load, `cli.signals.start_up` ends the process itself; from main() on,
the command's own handlers save the work. This catches the moments in between.
"""

import signal
import sys

try:
    from .cli import run

    status = run()
except KeyboardInterrupt:  # before the imports are guarded, before main() starts, or after it
    print("stylegram: interrupted", file=sys.stderr)
    status = 130
signal.signal(
    signal.SIGINT, signal.SIG_DFL
)  # from here on a Ctrl-C ends the process, without a traceback
sys.exit(status)
