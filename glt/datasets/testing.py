"""Writers of tiny but valid datasets in the real on-disk formats, so the real
loaders (and PyG's) can be tested offline end to end."""
from __future__ import annotations

import os
import pickle
from collections import defaultdict

import numpy as np


def write_planetoid(raw_dir: str, name: str, num_classes: int = 3, num_features: int = 8,
                    num_allx: int = 520, num_test: int = 12, missing_test: int = 0,
                    seed: int = 0) -> None:
    """Write ``ind.<name>.{x,y,allx,ally,tx,ty,graph,test.index}`` in the
    Planetoid format (pickled SciPy CSR features, one-hot NumPy labels, an
    adjacency dict, an unsorted test index).

    ``num_allx`` must leave room for the 500 validation nodes of the public split.
    ``missing_test`` ids inside the test range get no row in ``tx``/``ty``, as
    CiteSeer's isolated test nodes. The graph holds a self-loop and a
    duplicated neighbour, as the real files do.
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    os.makedirs(raw_dir, exist_ok=True)
    num_train = 2 * num_classes
    span = num_test + missing_test
    test_ids = np.arange(num_allx, num_allx + span)
    if missing_test:
        drop = rng.choice(np.arange(1, span - 1), size=missing_test, replace=False)
        test_ids = np.delete(test_ids, drop)
    rng.shuffle(test_ids)

    def features(n: int) -> "sp.csr_matrix":
        return sp.csr_matrix((rng.random((n, num_features)) < 0.3).astype(np.float32))

    def onehot(n: int) -> np.ndarray:
        return np.eye(num_classes, dtype=np.int32)[rng.integers(0, num_classes, n)]

    allx, ally = features(num_allx), onehot(num_allx)
    arrays = {"x": allx[:num_train], "y": ally[:num_train], "allx": allx, "ally": ally,
              "tx": features(len(test_ids)), "ty": onehot(len(test_ids))}
    total = num_allx + span
    graph: dict[int, list[int]] = defaultdict(list)
    for _ in range(3 * total):
        u, v = (int(a) for a in rng.integers(0, total, 2))
        graph[u].append(v)
        graph[v].append(u)
    graph[0].extend([0, 1, 1])  # a self-loop and a duplicate
    arrays["graph"] = graph
    key = name.lower()
    for part, obj in arrays.items():
        with open(os.path.join(raw_dir, f"ind.{key}.{part}"), "wb") as f:
            pickle.dump(obj, f, protocol=2)
    np.savetxt(os.path.join(raw_dir, f"ind.{key}.test.index"), test_ids, fmt="%d")
