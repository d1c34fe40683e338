"""A resumed results file computed otherwise is refused with the field and
what the difference means, so the user knows which option to change."""

import pytest

from captum_lam.studies._identity import check_identity

_FILE = {"sigma": 1.2, "captum_lam_version": "1.0.0"}
_MODEL = {"model_digest": "abc", "degradation": "bicubic"}
_IMAGE = {"image_digest": "def"}


@pytest.mark.parametrize(
    ("field", "theirs", "meaning"),
    [
        ("sigma", 2.0, "another LAM setting"),
        ("captum_lam_version", "0.9.0", "another captum-lam version"),
        ("model_digest", "xyz", "other weights or model options"),
        ("degradation", "blur", "another degradation"),
        ("image_digest", "uvw", "other pixels: another file, --centre-crop or image"),
    ],
)
def test_the_refusal_names_the_field_and_its_meaning(field, theirs, meaning):
    record = {"model": "m", "image": "i", **_FILE, **_MODEL, **_IMAGE, field: theirs}
    ours = {**_FILE, **_MODEL, **_IMAGE}[field]
    with pytest.raises(ValueError) as error:
        check_identity([(record, "out.jsonl:3")], _FILE, {"m": _MODEL}, {"i": _IMAGE})
    assert str(error.value).startswith(
        f"out.jsonl:3: this record was computed with {field}={theirs!r} and this "
        f"run has {field}={ours!r} ({meaning}); the file was left unchanged"
    )


def test_records_of_other_models_are_checked_for_the_file_fields_only():
    record = {"model": "other", "image": "i", **_FILE, "model_digest": "zzz"}
    check_identity([(record, "out.jsonl:1")], _FILE, {"m": _MODEL}, {})
    with pytest.raises(ValueError, match="computed with sigma=1.5"):
        check_identity(
            [(record, "out.jsonl:1"), ({**record, "sigma": 1.5}, "out.jsonl:2")],
            _FILE,
            {"m": _MODEL},
            {},
        )
