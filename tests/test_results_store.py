"""evaluate's results file: recognised before any change, locked while in use."""

import json
import threading
import time

import pytest

from captum_lam._io import write_text_atomic
from captum_lam.studies._store import (
    ResultsFileInUse,
    read_results,
    repair_tail,
    results_lock,
)


def _line(key, **values):
    return json.dumps({"key": key, **values})


@pytest.mark.parametrize(
    "text, where",
    [
        ("my notes about the study", ":1"),  # no newline, not a record
        ("image,top,left,size\nsample:coffee,0,0,16\n", ":1"),
        (_line("a") + "\n42\n", ":2"),
        (_line("a") + "\nnull\n", ":2"),
        (_line("a") + '\n{"model": "x"}\n', ":2"),
        ('{"key": 3}\n', ":1"),
        (_line("a") + "\nnot json\n" + _line("b") + "\n", ":2"),
    ],
)
def test_unrecognised_file_is_refused_naming_file_and_line(tmp_path, text, where):
    path = tmp_path / "out.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError, match="not a results file") as error:
        read_results(path)
    assert str(error.value).startswith(f"{path}{where} ")
    assert path.read_text() == text


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(ValueError, match="not a results file"):
        read_results(path)


def test_record_missing_only_its_newline_is_a_record(tmp_path):
    path = tmp_path / "out.jsonl"
    text = _line("a", di=1.5) + "\n" + _line("b", di=2.5)
    path.write_text(text)
    found = read_results(path)
    assert [r["key"] for r in found.records] == ["a", "b"]
    assert found.tail == "missing_newline"
    repair_tail(found)
    assert path.read_text() == text + "\n"
    assert [r["key"] for r in read_results(path).records] == ["a", "b"]


@pytest.mark.parametrize("cut", [5, -2])
def test_cut_last_record_is_dropped_and_only_it(tmp_path, cut):
    path = tmp_path / "out.jsonl"
    first = _line("a", di=1.5) + "\n"
    path.write_text(first + _line("b", di=2.5)[:cut])
    found = read_results(path)
    assert [r["key"] for r in found.records] == ["a"]
    assert found.tail == "cut" and found.cut_line == 2
    assert path.read_text().startswith(first)  # reading changed nothing
    with pytest.warns(UserWarning, match=f"{path}:2: the last record was cut off"):
        repair_tail(found)
    assert path.read_text() == first


def test_missing_and_empty_files_are_empty_results(tmp_path):
    assert read_results(tmp_path / "new.jsonl").records == []
    (tmp_path / "empty.jsonl").write_text("")
    assert read_results(tmp_path / "empty.jsonl").records == []


def test_folder_and_fifo_are_refused(tmp_path):
    import os

    with pytest.raises(ValueError, match="is a folder"):
        read_results(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match="not a regular file"):
        read_results(tmp_path / "pipe")
    with pytest.raises(ValueError, match="not a regular file"):
        with results_lock(tmp_path / "pipe"):
            pass


def test_second_holder_is_refused_with_one_line(tmp_path):
    path = tmp_path / "out.jsonl"
    with results_lock(path):
        with pytest.raises(ResultsFileInUse, match="another captum-lam evaluate"):
            with results_lock(path):
                pass
    with results_lock(path):  # released
        pass


def test_lock_leaves_no_empty_file_it_created_but_keeps_others(tmp_path):
    path = tmp_path / "out.jsonl"
    with results_lock(path):
        assert path.exists()
    assert not path.exists()
    with results_lock(path):
        path.write_text(_line("a") + "\n")
    assert path.exists()
    empty = tmp_path / "given.jsonl"
    empty.write_text("")
    with results_lock(empty):
        pass
    assert empty.exists()


def test_waiter_locks_the_file_that_replaced_the_one_it_waited_for(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(_line("a") + "\n")
    held = threading.Event()

    def first_run():
        with results_lock(path):
            held.set()
            time.sleep(0.3)  # let the second run start waiting
            write_text_atomic(path, _line("a") + "\n" + _line("b") + "\n")

    thread = threading.Thread(target=first_run)
    thread.start()
    held.wait()
    with results_lock(path, wait=True):
        # the lock is on the new file: a third run is refused
        with pytest.raises(ResultsFileInUse):
            with results_lock(path):
                pass
        assert [r["key"] for r in read_results(path).records] == ["a", "b"]
    thread.join()


def test_symlinked_results_file_is_locked_through_the_link(tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with results_lock(link) as target:
        assert target == real
        with pytest.raises(ResultsFileInUse):
            with results_lock(real):
                pass
