"""What the output checks accept and how they say no: a missing folder output
is created later, so its missing parents are fine; a wrong extension is
refused naming the extensions allowed."""

import pytest

from captum_lam._frontend import output_paths
from captum_lam._frontend.output_paths import Output, check_outputs


def test_a_missing_nested_folder_output_is_accepted(tmp_path):
    figures = tmp_path / "new" / "deeper" / "figures"
    checked = check_outputs([Output("--figures", str(figures), folder=True)])
    assert checked == {"--figures": figures}
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_a_folder_output_below_a_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    below = tmp_path / "notes.txt" / "figures"
    with pytest.raises(ValueError, match="--figures: cannot write to folder"):
        check_outputs([Output("--figures", str(below), folder=True)])


@pytest.mark.parametrize(
    ("suffixes", "allowed"),
    [
        ((".png",), ".png"),
        ((".png", ".npz"), ".png or .npz"),
        ((".json", ".jsonl", ".txt"), ".json, .jsonl or .txt"),
    ],
)
def test_a_wrong_extension_names_the_allowed_ones(tmp_path, suffixes, allowed):
    name = str(tmp_path / "out.csv")
    with pytest.raises(ValueError) as error:
        check_outputs([Output("--out", name, suffixes=suffixes)])
    assert str(error.value) == f"--out must end in {allowed}, got {name!r}"


def test_a_new_file_in_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    # the tests may run as root, for whom every folder is writable: the
    # folder is made read-only to the check itself
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = output_paths.os.access
    monkeypatch.setattr(
        output_paths.os,
        "access",
        lambda path, mode: real_access(path, mode) and str(path) != str(locked),
    )
    with pytest.raises(ValueError, match="--out: cannot write to folder .*locked"):
        check_outputs([Output("--out", str(locked / "new.png"))])
    check_outputs([Output("--out", str(tmp_path / "new.png"))])
