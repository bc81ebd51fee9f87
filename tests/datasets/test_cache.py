import json
import os

import numpy as np
import pytest

from glt.datasets._cache import CacheWriter, fingerprint, load_cache


def test_round_trip_memory_maps(tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("x")
    fp = fingerprint(str(tmp_path), [str(src)])
    big = np.arange(10_000, dtype=np.int64)
    with CacheWriter(str(tmp_path / "cache"), fp, {"k": 1}) as w:
        w.save("big", big)
        w.save("small", np.array([1.5]))
        m = w.open("built", np.int32, (3,))
        m[:] = [4, 5, 6]
        m.flush()
    arrays, info, finite = load_cache(str(tmp_path / "cache"), fp)
    assert isinstance(arrays["big"], np.memmap) and np.array_equal(arrays["big"], big)
    assert arrays["small"][0] == 1.5 and arrays["built"].tolist() == [4, 5, 6]
    assert info == {"k": 1} and finite == set()  # not asked to record finiteness
    arrays["big"][0] = -1  # copy-on-write: the file keeps its value
    assert load_cache(str(tmp_path / "cache"), fp)[0]["big"][0] == 0


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_finiteness_of_floating_point_arrays_is_recorded(tmp_path, dtype):
    values = np.ones((3000, 4), dtype)  # memory-mapped at the build's check
    with CacheWriter(str(tmp_path / "cache"), {}, record_finite=True) as w:
        w.save("clean", values)
        for name, bad in (("nan", np.nan), ("inf", -np.inf)):
            dirty = values.copy()
            dirty[2999, 3] = bad
            w.save(name, dirty)
        w.save("small_nan", np.array([np.nan], dtype))
        w.save("ints", np.arange(3))
    assert load_cache(str(tmp_path / "cache"), {})[2] == {"clean"}


def test_finiteness_and_checksum_in_one_read_across_blocks(tmp_path):
    """Arrays over the 8 MiB read block: a NaN in the last block is found, values
    whose float64 sum overflows are still finite, a big-endian array is read as
    such, and each recorded SHA-256 is the file's."""
    from glt.datasets._cache import file_sha256, verify_cache
    late = np.zeros(3_000_000, np.float32)  # 12 MB: two blocks
    late[-1] = np.nan
    huge = np.full(2_000_000, 1e308)  # finite, but every block's sum overflows
    swapped = np.arange(5, dtype=">f8")
    folder = str(tmp_path / "cache")
    with CacheWriter(folder, {}, record_finite=True) as w:
        w.save("late", late)
        w.save("huge", huge)
        w.save("swapped", swapped)
    assert load_cache(folder, {})[2] == {"huge", "swapped"}
    with open(os.path.join(folder, "meta.json")) as f:
        records = json.load(f)["arrays"]
    for name in ("late", "huge", "swapped"):
        assert records[name]["sha256"] == file_sha256(os.path.join(folder, f"{name}.npy"))
    assert records["swapped"]["dtype"] == ">f8" and verify_cache(folder) == []


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with CacheWriter(str(tmp_path / "cache"), {}) as w:
            w.save("a", np.zeros(3))
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []


def test_stale_or_broken_cache_is_refused(tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("x")
    fp = fingerprint(str(tmp_path), [str(src)])
    with CacheWriter(str(tmp_path / "cache"), fp) as w:
        w.save("a", np.zeros(5000))
    src.write_text("changed, longer")
    assert load_cache(str(tmp_path / "cache"), fingerprint(str(tmp_path), [str(src)])) is None
    with open(tmp_path / "cache" / "a.npy", "r+b") as f:
        f.truncate(100)
    assert load_cache(str(tmp_path / "cache"), fp) is None
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    meta["format"] = -1
    (tmp_path / "cache" / "meta.json").write_text(json.dumps(meta))
    assert load_cache(str(tmp_path / "cache"), fp) is None


def test_same_name_twice_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="written twice"):
        with CacheWriter(str(tmp_path / "c"), {}) as w:
            w.save("a", np.zeros(1))
            w.save("a", np.zeros(1))


def test_two_processes_writing_the_same_cache_both_succeed(tmp_path, monkeypatch):
    """torchrun ranks on one machine process a set at the same time: the writer
    whose rename loses the race finds the other's complete cache in place and keeps it."""
    fp, target = {"a.txt": [1, 2]}, str(tmp_path / "cache")
    first, second = CacheWriter(target, fp), CacheWriter(target, fp)
    second.__enter__()
    second.save("v", np.arange(3))
    real_replace, raced = os.replace, []

    def racing(src, dst):
        if dst == target and not raced:  # the twin finishes between rmtree and rename
            raced.append(True)
            second.__exit__(None, None, None)
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", racing)
    with first:
        first.save("v", np.arange(3))
    assert raced and load_cache(target, fp)[0]["v"].tolist() == [0, 1, 2]
    assert sorted(os.listdir(tmp_path)) == ["cache"]
