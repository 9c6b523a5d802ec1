"""Ctrl-C from the first moment of an application to its last: one line and status 130.

And output piped into a program that stops reading early (``... | head``) ends
quietly, with status 141, rather than with a BrokenPipeError traceback.

Only the standard library here: an application imports this module before the
slow imports (torch, scikit-learn) that take most of its start-up, so that a
Ctrl-C while they load ends quietly instead of with a traceback.
"""

import os
import signal
import sys

__all__ = ["BROKEN_PIPE", "INTERRUPTED", "quiet_ctrl_c_while_starting", "run_program"]

#: Exit status after Ctrl-C, as shells report a process ended by SIGINT.
INTERRUPTED = 130
#: Exit status when the reader of the output went away, as shells report SIGPIPE.
BROKEN_PIPE = 141


def _stop_while_starting(signum, frame):
    print("\ninterrupted (Ctrl-C) while starting: stopped.", file=sys.stderr)
    raise SystemExit(INTERRUPTED)


def quiet_ctrl_c_while_starting(module_name):
    """Make Ctrl-C end the program quietly until :func:`run_program` takes over.

    Acts only when the calling module runs as the program (``module_name`` is
    ``"__main__"``); imported (by tests, by another program), it does nothing,
    and so it does in a process started with Ctrl-C ignored (a background job).
    """
    if module_name == "__main__" and not _ignoring_ctrl_c():
        signal.signal(signal.SIGINT, _stop_while_starting)


def _ignoring_ctrl_c():
    # A job started in the background by a script inherits SIGINT ignored; it
    # keeps ignoring it, as its parent meant.
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def run_program(main):
    """Run an application's ``main()`` as the program, and exit with its status.

    While ``main`` runs, Ctrl-C raises KeyboardInterrupt, which ``main``
    handles where it knows what was saved; one that escapes it ends with a
    one-line message and status 130; a BrokenPipeError (the reader of standard
    output went away), quietly with status 141. Once ``main`` has returned,
    its outputs are complete, and a late Ctrl-C is ignored rather than turned
    into a traceback while the interpreter exits.
    """
    if not _ignoring_ctrl_c():
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        status = main()
        sys.stdout.flush()  # here, where a reader gone away is handled below
    except KeyboardInterrupt:
        print("\ninterrupted (Ctrl-C): stopped.", file=sys.stderr)
        status = INTERRUPTED
    except BrokenPipeError:
        # The reader of our output stopped early (`... | head`): nothing to report.
        # What is still buffered goes nowhere, so that flushing it at exit
        # raises nothing either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = BROKEN_PIPE
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)
