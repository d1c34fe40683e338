"""Where output lands: ``-`` on the real standard output, new files with the
permissions ``open`` would give, and no trace of a failed write."""

import io
import os
import stat
import sys

import pytest

from captum_lam import _io
from captum_lam._io import (
    is_special_file,
    is_stdout,
    release_stdout,
    stream_to_stdout,
    write_atomic,
    write_text_atomic,
)


class _Console(io.TextIOWrapper):
    def __init__(self):
        super().__init__(io.BytesIO(), encoding="utf-8")

    def text(self):
        self.flush()
        return self.buffer.getvalue().decode()


def _consoles(monkeypatch):
    # set in the test itself: pytest's capture reinstalls sys.stdout after fixtures
    out, err = _Console(), _Console()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(_io, "_stream", None)
    return out, err


def test_dash_is_the_standard_output_and_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out, _ = _consoles(monkeypatch)
    assert write_text_atomic("-", "to the console") == _io.Path("-")
    assert out.text() == "to the console"
    assert list(tmp_path.iterdir()) == []


def test_only_dash_means_standard_output():
    assert is_stdout("-") and is_stdout(_io.Path("-"))
    assert not is_stdout(None) and not is_stdout("./-") and not is_stdout("out")


def test_streaming_keeps_stdout_for_dash_and_sends_messages_to_stderr(monkeypatch):
    out, err = _consoles(monkeypatch)
    stream_to_stdout()
    stream_to_stdout()  # a second call keeps the real standard output
    try:
        print("a message")
        write_text_atomic("-", "the map")
    finally:
        release_stdout()
    assert sys.stdout is out
    assert out.text() == "the map"
    assert err.text() == "a message\n"
    release_stdout()  # without streaming: nothing to undo
    assert sys.stdout is out


def test_new_file_gets_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        target = write_text_atomic(tmp_path / "new.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644  # rw-r--r--, no x
    assert os.umask(old) == old  # the umask is left as it was


def test_failed_write_of_a_new_file_leaves_nothing(tmp_path):
    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(tmp_path / "new.json", fail)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_path_is_no_special_file(tmp_path):
    assert not is_special_file(tmp_path / "missing")
    assert not is_special_file(tmp_path)  # a directory neither


def test_temporary_name_is_short_and_beside_the_target(tmp_path):
    """``.NAME[:20].RANDOM.tmp``: a 255-byte name can still be written."""
    name = "m" * 251 + ".png"
    seen = []

    def write(handle):
        seen.extend(p.name for p in tmp_path.iterdir())
        handle.write(b"data")

    write_atomic(tmp_path / name, write)
    assert len(seen) == 1
    assert seen[0].startswith("." + "m" * 20 + ".") and seen[0].endswith(".tmp")
    assert (tmp_path / name).read_bytes() == b"data"
