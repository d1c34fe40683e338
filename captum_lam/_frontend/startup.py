"""Ctrl-C while the ``captum-lam`` command starts: one line, exit 130, no traceback.

Importing the package (torch, captum, matplotlib) takes seconds, before the
command's own ``try`` can catch ``KeyboardInterrupt``. When the process is the
command (``captum-lam ...`` or ``python -m captum_lam ...``), the package's first
import installs a SIGINT handler that prints one line and exits with 130;
:func:`restore_interrupts` gives Python's usual handler back once the command
runs, so interrupts then end in the command's own tidy exit. Importing the
package as a library changes nothing.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

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


quiet_interrupts_while_starting()
