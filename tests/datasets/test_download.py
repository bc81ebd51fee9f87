import os

import pytest

from glt.datasets._download import download_url


def test_fetches_through_a_temporary_file(tmp_path):
    (tmp_path / "src.bin").write_bytes(b"payload")
    target = tmp_path / "a" / "b" / "file.bin"
    assert download_url((tmp_path / "src.bin").as_uri(), str(target)) == str(target)
    assert target.read_bytes() == b"payload"
    assert os.listdir(target.parent) == ["file.bin"]


def test_failure_removes_only_the_folders_it_created(tmp_path):
    (tmp_path / "kept").mkdir()
    target = tmp_path / "kept" / "new" / "deeper" / "file.bin"
    with pytest.raises(RuntimeError, match="could not download .*missing.bin.*by hand"):
        download_url((tmp_path / "missing.bin").as_uri(), str(target))
    assert os.listdir(tmp_path) == ["kept"] and os.listdir(tmp_path / "kept") == []


def test_failure_keeps_a_folder_holding_earlier_files(tmp_path):
    (tmp_path / "src.bin").write_bytes(b"x")
    raw = tmp_path / "raw"
    download_url((tmp_path / "src.bin").as_uri(), str(raw / "first.bin"))
    with pytest.raises(RuntimeError):
        download_url((tmp_path / "missing.bin").as_uri(), str(raw / "second.bin"))
    assert os.listdir(raw) == ["first.bin"]
