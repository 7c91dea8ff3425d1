"""Nothing lost: atomic outputs, no silent overwrite, impostor files recognised."""

from pathlib import Path

import pytest

from tl_classifier.errors import OutputExistsError
from tl_classifier.files import atomic_output, sniff_impostor


def test_failure_leaves_nothing(tmp_path: Path):
    out = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_output(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_kept_unless_asked(tmp_path: Path):
    out = tmp_path / "out.bin"
    out.write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="--overwrite"), atomic_output(out) as tmp:
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"old"
    with atomic_output(out, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert out.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_folders_are_replaced_whole(tmp_path: Path):
    out = tmp_path / "model"
    for content in (b"1", b"2"):
        with atomic_output(out, overwrite=True) as tmp:
            tmp.mkdir()
            (tmp / "f").write_bytes(content)
    assert (out / "f").read_bytes() == b"2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_sniff_real_impostors(realdata: Path):
    found = {str(p): sniff_impostor(p) for p in (realdata / "negative").rglob("*") if p.is_file()}
    assert len(found) == 3 and all(found.values()), found
    assert sniff_impostor(realdata / "labelmaps/alex-lechner/data/udacity_label_map.pbtxt") is None


def test_recording_rows_keep_the_other_recordings_and_their_order(tmp_path: Path):
    """make loro and make probe run one recording again without losing the others' rows; nothing partial on failure."""
    import json

    from tl_classifier.testing.realdata import RECORDINGS, write_recording_rows

    first, second, third = list(RECORDINGS)[:3]
    path = tmp_path / "loro.json"
    write_recording_rows(path, {"date": "then"}, [{"recording": third, "n": 1}, {"recording": first, "n": 1}])
    rows = write_recording_rows(path, {"date": "now"}, [{"recording": second, "n": 2}, {"recording": first, "n": 2}])
    doc = json.loads(path.read_text())
    assert doc["date"] == "now" and doc["recordings"] == rows
    assert [(r["recording"], r["n"]) for r in rows] == [(first, 2), (second, 2), (third, 1)]
    before = path.read_text()
    with pytest.raises(TypeError):  # a row that is not JSON: the file is left as it was, no partial file beside it
        write_recording_rows(path, {}, [{"recording": first, "n": object()}])
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["loro.json"]
