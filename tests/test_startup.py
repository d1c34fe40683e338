"""Ctrl-C while the command starts ends in one line, not a traceback."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Sends SIGINT to the process when torch starts importing, i.e. during start-up.
INTERRUPT_DURING_IMPORT = """
import os, signal, sys
sys.argv[0] = {argv0!r}
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
import captum_lam
{load}
print("imported")
"""
# what loads torch: the command's parser, or a library user's first public name
COMMAND_LOAD = "from captum_lam.cli import build_parser; build_parser()"
LIBRARY_LOAD = "captum_lam.LAM"


def _run(code):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_interrupt_while_the_command_starts_prints_one_line():
    result = _run(
        INTERRUPT_DURING_IMPORT.format(argv0="/usr/bin/captum-lam", load=COMMAND_LOAD)
    )
    assert result.returncode == 130
    assert result.stderr == "captum-lam: interrupted\n"
    assert "imported" not in result.stdout


def test_library_users_still_get_keyboard_interrupt():
    result = _run(
        INTERRUPT_DURING_IMPORT.format(argv0="my_script.py", load=LIBRARY_LOAD)
    )
    # Python's own ending for an uncaught KeyboardInterrupt: killed by SIGINT
    assert result.returncode == -signal.SIGINT
    assert result.stderr.rstrip().endswith("KeyboardInterrupt")
    assert "imported" not in result.stdout


def test_the_command_gets_python_interrupts_back_once_it_runs():
    result = _run(
        """
        import os, signal, sys
        sys.argv[0] = "captum-lam"
        from captum_lam._frontend.startup import restore_interrupts
        restore_interrupts()
        try:
            os.kill(os.getpid(), signal.SIGINT)
            signal.pause() if hasattr(signal, "pause") else None
        except KeyboardInterrupt:
            print("caught")
        """
    )
    assert result.stdout == "caught\n"
