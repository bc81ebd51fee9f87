import json
import platform

import torch

from glt.train.output import hardware, write_json


def test_write_json_replaces_the_file_whole(tmp_path):
    path = str(tmp_path / "sub" / "r.json")
    write_json(path, {"a": 1})
    write_json(path, {"b": [1, 2]})
    with open(path) as f:
        assert json.load(f) == {"b": [1, 2]}
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["r.json"]
    write_json(None, {"ignored": True})  # no path: nothing written


def test_hardware_names_the_cpu_or_the_gpu(monkeypatch):
    cpu = hardware("cpu")
    assert platform.machine() in cpu and f"{torch.get_num_threads()} thread" in cpu
    for count, name in ((1, "1 thread"), (2, "2 threads")):
        monkeypatch.setattr(torch, "get_num_threads", lambda: count)
        assert hardware("cpu") == f"{platform.machine()} CPU, {name}"
    monkeypatch.undo()
    if torch.cuda.is_available():
        assert hardware("cuda") == torch.cuda.get_device_name()
    else:
        assert hardware("cuda") == cpu
