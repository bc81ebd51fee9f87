import hashlib
import http.server
import os
import shutil
import subprocess
import threading

import pytest
import torch

from glt.datasets._download import ChecksumError, download_url, fetch_file, git_blob_id
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


# the ids gusye1234/LightGCN-PyTorch's tree (947ca2b) records for the gowalla files
GOWALLA_BLOBS = {"train.txt": "a27782bd7a1d4d0744148dc0460ea94da74763f2",
                 "test.txt": "9ed5af4b5d21511f33740b4e22e3852f45671800"}


def test_git_blob_id_is_the_id_git_gives(tmp_path, shared_data):
    """glt's blob id of the real gowalla files is the one their source repository's
    tree records (as yelp2018's and amazon-book's train.txt are registered), and
    of other bytes the one ``git hash-object`` gives."""
    for name, blob in GOWALLA_BLOBS.items():
        assert git_blob_id(os.path.join(shared_data, "rec", "gowalla", name)) == blob
    if shutil.which("git") is None:
        pytest.skip("no git here to compare other bytes with")
    for i, payload in enumerate((b"", b"0 1 2\n", PAYLOAD)):
        (tmp_path / f"{i}.bin").write_bytes(payload)
        git = subprocess.run(["git", "hash-object", str(tmp_path / f"{i}.bin")],
                             capture_output=True, text=True, check=True).stdout.strip()
        assert git_blob_id(str(tmp_path / f"{i}.bin")) == git


def test_download_verified_by_its_git_blob_id(tmp_path):
    (tmp_path / "src.bin").write_bytes(PAYLOAD)
    record = {"git_blob": git_blob_id(str(tmp_path / "src.bin"))}
    with _Server({"/good": PAYLOAD, "/wrong": WRONG}) as base:
        download_url(f"{base}/good", str(tmp_path / "f.bin"), record)
        assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
        (tmp_path / "w.bin").write_bytes(WRONG)
        with pytest.raises(ChecksumError, match=(
                f"{base}/wrong has git blob id {git_blob_id(str(tmp_path / 'w.bin'))}, "
                f"expected {record['git_blob']}; it was deleted")):
            download_url(f"{base}/wrong", str(tmp_path / "w" / "f.bin"), record)
        assert not (tmp_path / "w").exists()


def test_registered_git_blobs_are_checked_on_disk(tmp_path, capsys):
    """yelp2018's train.txt is registered by its git blob id: a file in its place
    that is not it is named on load and by ``glt data verify``."""
    from glt.cli import main
    record = dataset_info("yelp2018").file_record("train.txt")
    assert record == {"git_blob": "cda12361055ba448ae4bd1070f6000c16dea8f22"}
    path = tmp_path / "yelp2018" / "train.txt"
    path.parent.mkdir()
    path.write_text("0 1 2\n")
    ours = git_blob_id(str(path))
    with pytest.warns(UserWarning, match=(f"train.txt is not yelp2018's registered file "
                                          f"\\(6 bytes, git blob {ours}, where the registered "
                                          f"one has git blob {record['git_blob']}\\)")):
        fetch_file("https://unused.invalid/train.txt", str(path), record, "yelp2018")
    assert main(["data", "verify", str(tmp_path)]) == 1
    from_cli = f"yelp2018/train.txt: 6 bytes, git blob {ours}; yelp2018's registered file has "
    assert from_cli + f"git blob {record['git_blob']}\n" in capsys.readouterr().out


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
