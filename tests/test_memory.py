import subprocess
import sys

import pytest

from glt.memory import keep_freed_memory

# allocate and free a 40 MB tensor 30 times (above glibc's largest adaptive
# mmap threshold, 32 MiB) and print the minor page faults that took
_LOOP = """
import resource, sys, torch
from glt.memory import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(30):
    t = torch.empty(10_000_000).fill_(1.0)
    del t
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, env: dict | None = None) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _LOOP, mode], capture_output=True, text=True,
                         check=True, env=env).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    _, default = _faults("default")
    applied, kept = _faults("keep")
    pages = 40_000_000 // 4096
    assert default > 25 * pages  # every allocation mapped and faulted in afresh
    # once the heap holds a few such blocks, freed ones are reused
    assert applied == "True" and kept < 8 * pages


def test_user_settings_are_kept_and_bad_sizes_refused(monkeypatch):
    import os
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="131072")
    assert _faults("keep", env)[0] == "False"
    with pytest.raises(ValueError, match="max_chunk in bytes"):
        keep_freed_memory(max_chunk=0)
    with pytest.raises(ValueError, match="keep in bytes"):
        keep_freed_memory(keep=1 << 40)
