"""Ctrl-C while the ``captum-lam`` command starts: one line, exit 130, no traceback.

Importing the package (torch, captum, matplotlib) takes seconds, before the
command's own ``try`` can catch ``KeyboardInterrupt``. When the process is the
command (``captum-lam ...`` or ``python -m captum_lam ...``), the package's first
import installs a SIGINT handler that prints one line and exits with 130;
:func:`restore_interrupts` gives Python's usual handler back once the command
runs, so interrupts then end in the command's own tidy exit. Importing the
package as a library changes nothing.

While a command runs (:func:`command_process`), SIGTERM raises `Terminated`, so
that every ``finally`` runs (temporary files are removed) before the command
exits with 143; a missing standard stream (``2>&-``) is replaced by
``os.devnull``; what a stream cannot encode (undecodable bytes of a file name)
is written as U+FFFD.
"""

from __future__ import annotations

import codecs
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

COMMAND = "captum-lam"


def _is_command() -> bool:
    if os.path.basename(sys.argv[0]) in (COMMAND, f"{COMMAND}.exe"):
        return True
    argv = list(getattr(sys, "orig_argv", ()))
    return "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "captum_lam"


def _interrupted(signum: int, frame: Any) -> None:
    sys.stderr.write(f"{COMMAND}: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


def quiet_interrupts_while_starting() -> None:
    """Install the one-line SIGINT handler if this process is the command."""
    if _is_command() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)


def restore_interrupts() -> None:
    """Python's own SIGINT handler again (KeyboardInterrupt), if ours is in place."""
    if signal.getsignal(signal.SIGINT) is _interrupted:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class Terminated(KeyboardInterrupt):
    """SIGTERM while a command runs: unwinds like Ctrl-C (``finally`` runs)."""


def _terminated(signum: int, frame: Any) -> None:
    raise Terminated


def _replace(error: UnicodeError) -> tuple[bytes, int]:
    # bytes: the UTF-8 encoder takes only ASCII text back from a handler
    return "\ufffd".encode(), error.end  # type: ignore[attr-defined]


codecs.register_error("captum_lam_replace", _replace)


@contextmanager
def command_process() -> Iterator[None]:
    """The process state a command runs in, given back afterwards (see above)."""
    from .._io import release_stdout

    opened = []
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # closed by the caller: write nowhere
            stream = open(os.devnull, "w")  # noqa: SIM115
            opened.append((name, stream))
            setattr(sys, name, stream)
    errors = []
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        encoding = (getattr(stream, "encoding", "") or "").lower().replace("-", "")
        if reconfigure is not None:
            errors.append((stream, stream.errors))
            utf8 = encoding == "utf8"
            reconfigure(errors="captum_lam_replace" if utf8 else "replace")
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        release_stdout()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        for stream, value in errors:
            stream.reconfigure(errors=value)
        for name, stream in opened:
            if getattr(sys, name) is stream:
                setattr(sys, name, None)
            stream.close()


quiet_interrupts_while_starting()
