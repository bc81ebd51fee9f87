"""glt._jit_cache: an edit to a helper module recompiles the cached kernels that
inline it, where Numba alone keeps the stale machine code."""
import os
import subprocess
import sys
import textwrap
from importlib import import_module

HELPER = "from numba import njit\n\n\n@njit(inline='always')\ndef value():\n    return {}\n"
KERNEL = textwrap.dedent("""\
    from numba import njit

    import helper
    from glt._jit_cache import track_helpers
    from helper import value


    @njit(cache=True)
    def kernel():
        return value()


    if {track}:
        track_helpers(__name__, helper)
""")


def _call(folder, module: str) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), *sys.path]))
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", f"import {module}; print({module}.kernel())"],
                          cwd=folder, env=env, capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_helper_edit_recompiles_tracked_kernel_only(tmp_path):
    (tmp_path / "helper.py").write_text(HELPER.format(1))
    (tmp_path / "tracked.py").write_text(KERNEL.format(track=True))
    (tmp_path / "untracked.py").write_text(KERNEL.format(track=False))
    assert _call(tmp_path, "tracked") == 1 and _call(tmp_path, "untracked") == 1
    assert list((tmp_path / "__pycache__").glob("tracked.kernel-*.nbi.helpers"))
    (tmp_path / "helper.py").write_text(HELPER.format(2))
    assert _call(tmp_path, "tracked") == 2
    assert _call(tmp_path, "untracked") == 1  # Numba's own check misses the edit
    assert _call(tmp_path, "tracked") == 2  # and the new code is cached in turn


def _stamped(kernel) -> bool:
    cache_file = getattr(kernel._cache, "_cache_file", None)  # None without cache=True
    return cache_file is not None and os.path.exists(cache_file._index_path + ".helpers")


def test_glt_kernels_are_tracked():
    """Every kernel with ``cache=True`` in the modules that inline helpers has a
    stamp: Numba's cache objects are where track_helpers looks for them."""
    for name in ("glt.ops._kernels", "glt.ops.dropout", "glt.samplers._kernels"):
        module = import_module(name)
        with open(module.__file__) as f:
            cached = f.read().count("cache=True)")
        stamped = [k for k in vars(module).values()
                   if getattr(k, "py_func", None) is not None
                   and k.py_func.__module__ == module.__name__ and _stamped(k)]
        assert len(stamped) == cached > 0, module.__name__


def test_a_serial_twin_recompiles_after_a_helper_edit_too(tmp_path):
    """A kernel's serial twin (run in forked workers, ``glt._threads``) has a disk cache
    of its own, stamped like its kernel's."""
    (tmp_path / "helper.py").write_text(HELPER.format(1))
    (tmp_path / "tracked.py").write_text(KERNEL.format(track=True))
    (tmp_path / "twin.py").write_text("import tracked\nfrom glt._threads import serial_twin\n"
                                      "kernel = serial_twin(tracked.kernel)\n")
    assert _call(tmp_path, "twin") == 1
    assert list((tmp_path / "__pycache__").glob("tracked.kernel_serial-*.nbi.helpers"))
    (tmp_path / "helper.py").write_text(HELPER.format(2))
    assert _call(tmp_path, "twin") == 2
