import hashlib
import http.server
import os
import shutil
import threading

import pytest
import torch

from glt.datasets._download import ChecksumError, download_url
from glt.datasets.registry import dataset_info


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


# ------------------------------------------------------------ verified downloads
class _Server:
    """A file server on 127.0.0.1 for ``files`` (path -> bytes); ``/truncated/NAME``
    sends half of ``files[/NAME]`` under a Content-Length of the whole."""

    def __init__(self, files: dict[str, bytes]) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                truncated = self.path.startswith("/truncated/")
                body = files.get(self.path.removeprefix("/truncated"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if truncated else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


PAYLOAD = bytes(range(256)) * 64
WRONG = b"X" * len(PAYLOAD)
RECORD = {"sha256": hashlib.sha256(PAYLOAD).hexdigest(), "size": len(PAYLOAD)}


def test_verified_download_from_a_local_server(tmp_path):
    with _Server({"/good": PAYLOAD, "/wrong": WRONG}) as base:
        target = tmp_path / "f.bin"
        download_url(f"{base}/good", str(target), RECORD)
        assert target.read_bytes() == PAYLOAD
        with pytest.raises(ChecksumError, match=(f"{base}/wrong has SHA-256 "
                                                 f"{hashlib.sha256(WRONG).hexdigest()}, "
                                                 f"expected {RECORD['sha256']}; it was deleted")):
            download_url(f"{base}/wrong", str(tmp_path / "w" / "f.bin"), RECORD)
        assert not (tmp_path / "w").exists()
        with pytest.raises(RuntimeError, match=f"could not download {base}/truncated/good"):
            download_url(f"{base}/truncated/good", str(tmp_path / "t" / "f.bin"), RECORD)
        assert not (tmp_path / "t").exists()
        with pytest.raises(ChecksumError, match="has 16384 bytes, expected 5"):
            download_url(f"{base}/good", str(tmp_path / "s.bin"), {**RECORD, "size": 5})
        with pytest.warns(UserWarning, match="no checksum is registered .* not verified"):
            download_url(f"{base}/good", str(tmp_path / "u.bin"))


def test_registered_files_carry_their_checksums(shared_data):
    """The registry's SHA-256s are those of the real files in ../shared/data."""
    from glt.datasets.registry import dataset_info
    for name, folder in (("cora", "planetoid"), ("gowalla", "rec/gowalla"),
                         ("ml-1m", "rec/ml-1m")):
        files = dataset_info(name).extra["files"]
        assert files
        for file, record in files.items():
            with open(os.path.join(shared_data, folder, file), "rb") as f:
                data = f.read()
            assert record == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def test_planetoid_download_is_verified_end_to_end(tmp_path):
    from glt.datasets import load_planetoid
    from glt.datasets.planetoid import RAW_FILES, bundled_cora_dir
    files = {}
    for part in RAW_FILES:
        with open(os.path.join(bundled_cora_dir(), f"ind.cora.{part}"), "rb") as f:
            files[f"/data/ind.cora.{part}"] = f.read()
    tx = bytearray(files["/data/ind.cora.tx"])
    tx[len(tx) // 2] ^= 1  # one flipped bit
    tampered = dict(files, **{"/data/ind.cora.tx": bytes(tx)})
    with _Server(tampered) as base:
        with pytest.raises(ChecksumError, match=f"{base}/data/ind.cora.tx has SHA-256"):
            load_planetoid("cora", str(tmp_path / "bad"), url=f"{base}/data")
        assert not os.path.exists(tmp_path / "bad" / "Cora" / "raw" / "ind.cora.tx")
    with _Server(files) as base:
        data = load_planetoid("cora", str(tmp_path / "good"), url=f"{base}/data")
    assert torch.equal(data.x, load_planetoid("cora").x)


def test_data_verify_checks_registered_downloads(tmp_path, capsys):
    """The real Cora files pass; one flipped bit, or a gowalla folder's train.txt
    that is not gowalla's, is named; a train.txt of the user's own folder is not
    a registered file."""
    from glt.cli import main
    from glt.datasets.planetoid import RAW_FILES, bundled_cora_dir
    planetoid = tmp_path / "Cora" / "raw"
    planetoid.mkdir(parents=True)
    for part in RAW_FILES:
        shutil.copy(os.path.join(bundled_cora_dir(), f"ind.cora.{part}"), planetoid)
    for folder in ("gowalla", "mine"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "train.txt").write_text("0 1 2\n")
    assert main(["data", "verify", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Cora/raw/ind.cora.x: cora's registered file\n" in out
    record = dataset_info("gowalla").file_record("train.txt")
    ours = hashlib.sha256(b"0 1 2\n").hexdigest()
    assert (f"gowalla/train.txt: 6 bytes, SHA-256 {ours}; "
            f"gowalla's registered file has {record['size']} bytes, SHA-256 "
            f"{record['sha256']}") in out
    assert "mine" not in out and "0 of 0 cache(s) damaged, 1 of 9 registered file(s) altered" in out
    (tmp_path / "gowalla" / "train.txt").unlink()
    tx = planetoid / "ind.cora.tx"
    data = bytearray(tx.read_bytes())
    data[100] ^= 1
    tx.write_bytes(bytes(data))
    assert main(["data", "verify", str(tmp_path)]) == 1
    assert "ind.cora.tx: 148025 bytes, SHA-256" in capsys.readouterr().out
    shutil.copy(os.path.join(bundled_cora_dir(), "ind.cora.tx"), planetoid)
    assert main(["data", "verify", str(tmp_path)]) == 0
    assert capsys.readouterr().out.endswith("0 cache(s) and 8 registered file(s) intact under "
                                            f"{tmp_path}\n")
