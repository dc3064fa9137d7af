"""Atomic writes (fileio.py): a file is the old one or the new one, never half of either, and no temporary file
is left behind, whatever fails. Run: python -m pytest tests/test_fileio.py
"""

import pytest

from vanilla_gan.fileio import TEMP_MARK, StorageError, append_text, atomic_write


def test_bytes_and_writer_functions_land_whole(tmp_path):
    path = atomic_write(tmp_path / "a.bin", b"first")
    assert path.read_bytes() == b"first"
    atomic_write(path, lambda f: f.write(b"second"))
    assert path.read_bytes() == b"second" and [p.name for p in path.parent.iterdir()] == ["a.bin"]


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = atomic_write(tmp_path / "a.bin", b"old")

    def half_then_fail(f):
        f.write(b"new, half")
        raise OSError(28, "No space left on device")

    with pytest.raises(StorageError, match=f"cannot write {path}: the disk is full"):
        atomic_write(path, half_then_fail)
    assert path.read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if TEMP_MARK in p.name]


def test_a_vanished_folder_is_an_error_not_a_new_folder(tmp_path):
    with pytest.raises(StorageError, match="does not exist"):
        atomic_write(tmp_path / "gone" / "a.bin", b"x")
    assert not (tmp_path / "gone").exists()


def test_append_adds_lines(tmp_path):
    path = tmp_path / "log.jsonl"
    append_text(path, '{"a": 1}')
    append_text(path, '{"a": 2}\n')
    assert path.read_text() == '{"a": 1}\n{"a": 2}\n'
