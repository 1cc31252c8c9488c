"""`python -m stylegram`: the command line, with a Ctrl-C at any moment kept to one line."""
import signal
import sys

try:
    from .cli import main

    status = main()
except KeyboardInterrupt:  # before main() installed its handlers, or just after it returned
    print("stylegram: interrupted", file=sys.stderr)
    status = 130
signal.signal(signal.SIGINT, signal.SIG_DFL)  # from here on a Ctrl-C ends the process, without a traceback
sys.exit(status)
