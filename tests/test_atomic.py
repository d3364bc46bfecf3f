"""Files written are complete or absent: neurosim.atomic."""
import pytest

from neurosim.atomic import atomic_path, write_text


def test_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    write_text(target, '{"a": 1}\n')
    assert target.read_text() == '{"a": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "table.md"
    target.write_text("complete old table")
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_path(target) as tmp:
            tmp.write_text("half a ta")
            raise RuntimeError("writer failed")
    assert target.read_text() == "complete old table"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]
