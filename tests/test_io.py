"""Output files: atomic for regular files, never replacing links or special files."""

import os
import signal
import stat

import pytest

from captum_lam._io import write_atomic, write_text_atomic


def test_regular_file_is_replaced_whole_and_keeps_its_permissions(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_text_atomic(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_symlink_stays_a_link_and_its_target_is_written(tmp_path):
    real = tmp_path / "data" / "results.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"


def test_dangling_symlink_creates_its_target(tmp_path):
    real = tmp_path / "made.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text_atomic(link, "new")
    assert link.is_symlink() and real.read_text() == "new"


def test_fifo_is_written_directly_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    pid = os.fork()
    if pid == 0:  # the reader; gives up after 20 s if nobody writes the FIFO
        signal.alarm(20)
        with open(fifo, "rb") as handle:
            data = handle.read()
        os._exit(0 if data == b"through the pipe" else 1)
    write_text_atomic(fifo, "through the pipe")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_character_device_is_written_directly(tmp_path):
    device = tmp_path / "null"
    try:  # as root: a private null device, so a regression cannot replace /dev/null
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:  # not root: renaming over /dev/null is refused anyway
        device = "/dev/null"
    write_text_atomic(device, "discarded")
    assert stat.S_ISCHR(os.stat(device).st_mode)
