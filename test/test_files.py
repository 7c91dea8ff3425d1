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
