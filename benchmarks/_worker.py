"""The result of a benchmark case run in a fresh subprocess (a worker)."""
from __future__ import annotations

import json
import os
import subprocess
from typing import Any


def worker_result(cmd: list[str], case: str) -> dict[str, Any]:
    """The JSON object a worker ``cmd`` prints last; a failed worker ends the
    benchmark with one line naming ``case`` and the worker's own last error line."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines()
               or [f"killed by signal {-done.returncode}" if done.returncode < 0
                   else f"exit code {done.returncode}"])[-1]
        raise SystemExit(f"{os.path.basename(cmd[1])}: error: the {case} case failed: {why}")
    return json.loads(done.stdout.strip().splitlines()[-1])
