"""A complete results file is left byte for byte as it is, and a lock on a
file the caller removed meanwhile ends quietly."""

import json

from captum_lam.studies._store import read_results, repair_tail, results_lock


def _lines(*keys):
    return "".join(json.dumps({"key": k, "di": 1.0}) + "\n" for k in keys)


def test_complete_file_needs_no_repair(tmp_path):
    path = tmp_path / "out.jsonl"
    text = _lines("a", "b", "c")
    path.write_text(text)
    found = read_results(path)
    assert found.tail == "complete"
    assert found.lines == [1, 2, 3]
    assert found.cut_at == len(text.encode())
    repair_tail(found)
    assert path.read_text() == text


def test_one_record_without_newline_gets_it_before_the_next_is_appended(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(_lines("a").rstrip("\n"))
    found = read_results(path)
    assert found.tail == "missing_newline"
    repair_tail(found)
    with open(path, "a") as handle:
        handle.write(_lines("b"))
    assert [r["key"] for r in read_results(path).records] == ["a", "b"]


def test_lock_on_a_file_removed_inside_the_block_ends_quietly(tmp_path):
    path = tmp_path / "out.jsonl"
    with results_lock(path) as target:
        target.unlink()
    assert list(tmp_path.iterdir()) == []
