"""Implicit-feedback recommender sets in the LightGCN file format.

A folder holds ``train.txt`` and ``test.txt``, one line per user:
``<user> <item> <item> ...`` with 0-based ids (gowalla, yelp2018 and amazon-book
as released with LightGCN; ml-1m as released with UltraGCN). A line may list
no item (amazon-book's test file has such lines): the user is kept, with no
interactions there. A file of ``<user> <item>`` pairs, one per line, reads as
the same interactions.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch
from numba import njit
from torch import Tensor

from glt._checks import as_index, as_int
from glt.datasets._download import fetch_file
from glt.datasets._layout import dataset_folder
from glt.datasets.planetoid import default_root
from glt.datasets.rec_slice import bundled_dir
from glt.datasets.registry import DatasetInfo, dataset_info
from glt.graph import CSRGraph

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData

log = logging.getLogger(__name__)

FILES = ("train.txt", "test.txt")


@dataclass
class RecDataset:
    """A user-item interaction set with its train / test split.

    Attributes:
        name: dataset name.
        num_users, num_items: ``U`` and ``I`` (largest id in either file, plus one).
        train: ``CSRGraph [U, I]`` of training interactions (row = user).
        test: ``CSRGraph [U, I]`` of test interactions.
        info: the registry entry, when the set is registered.
    """

    name: str
    num_users: int
    num_items: int
    train: CSRGraph
    test: CSRGraph
    info: Optional[DatasetInfo] = None

    @property
    def train_edges(self) -> Tensor:
        """``[2, nnz]`` (user, item) pairs of the training set."""
        return torch.stack([self.train.row(), self.train.col])

    @property
    def user_degree(self) -> Tensor:
        """``[U]`` training items per user."""
        return self.train.out_degree()

    @property
    def item_degree(self) -> Tensor:
        """``[I]`` training users per item."""
        return self.train.in_degree()

    @property
    def test_users(self) -> Tensor:
        """Users with at least one test item: the ones test metrics average over."""
        return (self.test.out_degree() > 0).nonzero().view(-1)

    def bipartite(self) -> CSRGraph:
        """The symmetric ``[U + I, U + I]`` user-item graph of the training set
        (user ``u`` is node ``u``, item ``i`` is node ``U + i``), LightGCN's ``A``."""
        users, items = self.train.row(), self.train.col + self.num_users
        edge_index = torch.stack([torch.cat([users, items]), torch.cat([items, users])])
        return CSRGraph.from_edge_index(edge_index, self.num_users + self.num_items)

    def __post_init__(self) -> None:
        shape = (self.num_users, self.num_items)
        for part in ("train", "test"):
            graph = getattr(self, part)
            got = graph.shape if isinstance(graph, CSRGraph) else type(graph).__name__
            if not isinstance(graph, CSRGraph) or graph.shape != shape:
                raise ValueError(f"{self.name}: expected {part} to be a CSRGraph of shape "
                                 f"{shape} (users, items), got {got}")

    @classmethod
    def from_edge_index(cls, train: Tensor, test: Tensor, num_users: Optional[int] = None,
                        num_items: Optional[int] = None,
                        name: str = "interactions") -> "RecDataset":
        """A set from the ``[2, nnz]`` (user, item) pairs of each split, both id ranges
        from 0 (a PyG bipartite ``edge_index``; not LightGCN's one graph, whose items
        follow the users). ``num_users`` / ``num_items`` default to the largest id of
        either split plus one. The checks of the file reader apply: an empty split is
        refused, repeated pairs are dropped with a warning, test pairs also in train
        (full ranking never hits them) are counted in a warning, and ids of which most
        never occur are refused (every model sizes its tables by the largest id)."""
        if num_users is not None:
            num_users = as_int(num_users, "num_users", minimum=1)
        if num_items is not None:
            num_items = as_int(num_items, "num_items", minimum=1)
        splits = [_pairs(train, "train", num_users, num_items),
                  _pairs(test, "test", num_users, num_items)]
        num_users, num_items, (train_graph, test_graph) = _split_graphs(
            splits, (f"{name}: train", f"{name}: test"), name, num_users, num_items)
        return cls(name, num_users, num_items, train_graph, test_graph)

    @classmethod
    def from_pyg(cls, data: "HeteroData", edge_type: Optional[tuple[str, str, str]] = None,
                 name: str = "pyg") -> "RecDataset":
        """From a ``torch_geometric.data.HeteroData`` laid out as PyG's LightGCN sets
        (``AmazonBook``): the training pairs in ``data[edge_type].edge_index``, the test
        pairs in its ``edge_label_index``, the sizes from the two node types. Of
        ``RandomLinkSplit``'s output pass the test split: its ``edge_index`` holds the
        training and validation pairs, its ``edge_label_index`` the test pairs and
        sampled negatives, of which the columns labelled 1 in ``edge_label`` are kept.
        ``edge_type`` defaults to the one edge type holding an ``edge_label_index``."""
        if edge_type is None:
            found = [t for t in data.edge_types if "edge_label_index" in data[t]]
            if len(found) != 1:
                raise ValueError(f"{name}: expected one edge type with an edge_label_index "
                                 f"(the test pairs), got {found or 'none'}; pass edge_type")
            edge_type = found[0]
        store = data[edge_type]
        for key in ("edge_index", "edge_label_index"):
            if key not in store:
                raise ValueError(f"{name}: {edge_type} has no {key} (expected the training "
                                 f"pairs in edge_index, the test pairs in edge_label_index)")
        test = store.edge_label_index
        if "edge_label" in store:
            test = test[:, store.edge_label.reshape(-1) == 1]
        users, items = (data[t].num_nodes for t in (edge_type[0], edge_type[2]))
        return cls.from_edge_index(store.edge_index, test, users, items, name)

    def to_pyg(self, item_type: str = "item") -> "HeteroData":
        """To a ``torch_geometric.data.HeteroData`` laid out as PyG's LightGCN sets
        (``AmazonBook``, whose items are ``"book"``): node types ``"user"`` and
        ``item_type``; ``(user, "rates", item)`` holds the training pairs in
        ``edge_index`` and the test pairs in ``edge_label_index``, ``(item,
        "rated_by", user)`` the reversed training pairs. :meth:`from_pyg` reads it back."""
        from torch_geometric.data import HeteroData
        data = HeteroData()
        data["user"].num_nodes, data[item_type].num_nodes = self.num_users, self.num_items
        train = self.train_edges
        data["user", "rates", item_type].edge_index = train
        data["user", "rates", item_type].edge_label_index = torch.stack(
            [self.test.row(), self.test.col])
        data[item_type, "rated_by", "user"].edge_index = train.flip(0)
        return data

    def __repr__(self) -> str:
        return (f"RecDataset({self.name}: users={self.num_users}, items={self.num_items}, "
                f"train={self.train.num_edges}, test={self.test.num_edges})")


@njit(cache=True)
def _parse(buf: np.ndarray):
    """Tokens of a LightGCN-format file: ``(user per line [L], items per line [L],
    items [nnz], bad line, bad byte)``; the bad line is 0 when all is well."""
    n = buf.shape[0]
    users = np.empty(n // 2 + 1, np.int64)
    counts = np.zeros(n // 2 + 1, np.int64)
    items = np.empty(n // 2 + 1, np.int64)
    num_lines, num_items, line, tokens, value, in_number = 0, 0, 1, 0, 0, False
    for p in range(n + 1):
        c = buf[p] if p < n else 10
        if c == 13 and (p + 1 == n or buf[p + 1] != 10):
            c = 10  # a line ending of CR alone (classic Mac OS), not of CR LF
        if 48 <= c <= 57:
            value = value * 10 + (c - 48)
            in_number = True
            if value >= 1 << 40:
                return users[:0], counts[:0], items[:0], line, c
        elif c == 32 or c == 9 or c == 13 or c == 10:
            if in_number:
                if tokens == 0:
                    users[num_lines] = value
                else:
                    items[num_items] = value
                    num_items += 1
                    counts[num_lines] += 1
                tokens += 1
                value, in_number = 0, False
            if c == 10:
                if tokens > 0:
                    num_lines += 1
                tokens = 0
                line += 1
        else:
            return users[:0], counts[:0], items[:0], line, c
    return users[:num_lines], counts[:num_lines], items[:num_items], 0, 0


def read_interactions(path: str) -> tuple[np.ndarray, np.ndarray, int]:
    """``(users [nnz], items [nnz], largest user id)`` of one LightGCN-format file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"no interaction file at {path}")
    raw = np.fromfile(path, dtype=np.uint8)
    expected = "expected lines of '<user> <item> <item> ...' with non-negative integer ids"
    if raw[:2].tobytes() in (b"\xff\xfe", b"\xfe\xff"):
        raise ValueError(f"{path} is UTF-16 text; save it as ASCII or UTF-8 ({expected})")
    if raw[:3].tobytes() == b"\xef\xbb\xbf":  # UTF-8 byte-order mark, as Windows editors write
        raw = raw[3:]
    users, counts, items, bad_line, bad_byte = _parse(raw)
    if bad_line:
        what = ("a number too large" if 48 <= bad_byte <= 57
                else f"unexpected character {chr(bad_byte)!r}" if bad_byte < 128
                else f"a non-ASCII byte 0x{bad_byte:02x}")
        raise ValueError(f"{path}, line {bad_line}: {what}; {expected}")
    _check_one_line_per_user(path, users, counts)
    return np.repeat(users, counts), items, int(users.max(initial=-1))


def _check_one_line_per_user(path: str, users: np.ndarray, counts: np.ndarray) -> None:
    """Refuse a table of one interaction per line with extra columns (MovieLens'
    ``user item rating timestamp``): its users recur on several lines, each of the
    same length, and its ratings or times would be read as items. A user on several
    lines of ``user item`` pairs is read as those pairs."""
    if users.size < 2 or counts.min() != counts.max() or counts[0] < 2:
        return
    ids, lines = np.unique(users, return_counts=True)
    if lines.max() < 2:
        return
    user = ids[np.argmax(lines)]
    raise ValueError(
        f"{path}: user {user} has {lines.max()} lines and every line holds {counts[0] + 1} "
        f"numbers: this looks like one interaction per line with extra columns (as "
        f"MovieLens' 'user item rating timestamp'), whose later columns would be read as "
        f"items. The LightGCN format has one line per user, '<user> <item> <item> ...'; "
        f"keep only the user and item columns (a 'user item' pair per line also reads)")


# Ids left unused in a set's range above this many (and over half of it) are refused:
# every model sizes its tables by the largest id.
_MAX_UNUSED_IDS = 1 << 20


def _check_dense(where: str, kind: str, count: int, ids: list[Tensor]) -> None:
    """Refuse ids ``0..count-1`` of which more than half (and over a million) never occur."""
    if count <= _MAX_UNUSED_IDS:
        return
    used = torch.unique(torch.cat(ids)).numel()
    if count - used > max(_MAX_UNUSED_IDS, count // 2):
        raise ValueError(f"{where}: {kind} ids go up to {count - 1} but only {used} distinct "
                         f"ones occur; models size their tables by the largest id ({count} "
                         f"rows), so ids are expected as 0..count-1: re-index them")


def _drop_repeats(key: Tensor) -> Tensor:
    """``key [nnz]`` without the repeats of a key, the first occurrences in order."""
    if torch.unique(key).numel() == key.numel():
        return key
    unique, inverse = torch.unique(key, return_inverse=True)
    first = torch.full((unique.numel(),), key.numel(), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(key.numel()), "amin")
    return key[first.sort().values]


def _split_graphs(splits: list[tuple[Tensor, Tensor]], sources: tuple[str, str], where: str,
                  num_users: Optional[int], num_items: Optional[int]
                  ) -> tuple[int, int, list[CSRGraph]]:
    """``(U, I, [train, test] CSRGraph [U, I])`` from the ``(users [nnz], items [nnz])``
    of each split, with the checks of :meth:`RecDataset.from_edge_index`."""
    for (users, _), source, purpose in zip(splits, sources, ("train on", "evaluate")):
        if users.numel() == 0:
            raise ValueError(f"{source} holds no interaction: nothing to {purpose}")
    if num_users is None:
        num_users = max(int(u.max()) for u, _ in splits) + 1
    if num_items is None:
        num_items = max(int(i.max()) for _, i in splits) + 1
    if num_users * num_items >= 1 << 62:  # pairs are keyed as user * num_items + item
        raise ValueError(f"{where}: ids up to {num_users - 1} (users) and {num_items - 1} "
                         f"(items) are beyond what glt can key as pairs ({num_users} x "
                         f"{num_items} >= 2^62); re-index the ids to 0..count-1")
    for kind, count, column in (("user", num_users, 0), ("item", num_items, 1)):
        _check_dense(where, kind, count, [split[column] for split in splits])
    graphs, train_keys = [], None
    for (users, items), source in zip(splits, sources):
        key = users * num_items + items
        kept = _drop_repeats(key)  # in the pairs' order: a user's items stay in order
        if kept.numel() != key.numel():
            log.warning("%s: %d repeated (user, item) pairs dropped", source,
                        key.numel() - kept.numel())
            key = kept
        if train_keys is None:
            train_keys = key
        else:  # a test pair also in train is ranked out, never hit
            seen = int(torch.isin(key, train_keys).sum())
            if seen:
                log.warning("%s: %d of its %d pairs are in %s too; full ranking leaves out "
                            "training items, so they can never be hit", source, seen,
                            key.numel(), sources[0])
        edge_index = torch.stack([key // num_items, key % num_items])
        graphs.append(CSRGraph.from_edge_index(edge_index, num_users, num_cols=num_items))
    return num_users, num_items, graphs


def _pairs(edge_index: Tensor, name: str, num_users: Optional[int],
           num_items: Optional[int]) -> tuple[Tensor, Tensor]:
    """``(users, items)`` of a checked ``[2, nnz]`` pair tensor."""
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        hint = (" (one pair per row: pass it transposed, .t())" if edge_index.dim() == 2
                and edge_index.size(1) == 2 else "")
        raise ValueError(f"expected {name} to be (user, item) pairs of shape [2, nnz], got "
                         f"{tuple(edge_index.shape)}{hint}")
    return (as_index(edge_index[0], f"{name}[0] (user ids)", bound=num_users).cpu(),
            as_index(edge_index[1], f"{name}[1] (item ids)", bound=num_items).cpu())


def read_rec_dir(directory: str, name: Optional[str] = None,
                 info: Optional[DatasetInfo] = None) -> RecDataset:
    """Read ``train.txt`` / ``test.txt`` of a LightGCN-format folder."""
    paths = tuple(os.path.join(directory, f) for f in FILES)
    parts = [read_interactions(path) for path in paths]
    # a user on a line with no item still counts
    num_users = max(p[2] for p in parts) + 1
    splits = [(torch.from_numpy(users), torch.from_numpy(items)) for users, items, _ in parts]
    num_users, num_items, (train, test) = _split_graphs(splits, paths, directory, num_users,
                                                        None)
    if info is not None:
        expected = (info.extra.get("num_users"), info.extra.get("num_items"))
        if expected != (num_users, num_items):
            log.warning("%s: the files give %d users / %d items, the registry %s / %s",
                        directory, num_users, num_items, *expected)
    return RecDataset(name or os.path.basename(os.path.normpath(directory)), num_users,
                      num_items, train, test, info)


def load_rec(name: str, root: Optional[str] = None, download: bool = True) -> RecDataset:
    """Load a recommender set: a registered name (``gowalla``, ``yelp2018``,
    ``amazon-book``, ``ml-1m``) kept in ``<root>/<name>/``, the bundled
    ``gowalla-slice`` (see :mod:`glt.datasets.rec_slice`), or the path of any
    folder in the LightGCN format.

    Args:
        name: registered name or folder path.
        root: data folder of registered sets (default ``<default_root()>/rec``), or
            the set's own folder (``.../gowalla``).
        download: fetch missing files of a registered set from its URL (the
            LightGCN / UltraGCN authors' repositories); otherwise a missing file
            raises ``FileNotFoundError``.
    """
    if os.path.isdir(name):
        return read_rec_dir(name)
    if os.sep in name or name.startswith("."):
        raise FileNotFoundError(f"no such folder: {name} (expected a folder with train.txt "
                                f"and test.txt, or a registered name)")
    info = dataset_info(name, source="lightgcn")
    if info.extra.get("bundled"):
        return read_rec_dir(bundled_dir(), info.name, info)
    directory = dataset_folder(root if root is not None else os.path.join(default_root(), "rec"),
                               (info.name,), FILES[0])
    for f in FILES:
        path = os.path.join(directory, f)
        if not download and not os.path.exists(path):
            raise FileNotFoundError(f"missing {path}; pass download=True to fetch it from "
                                    f"{info.url}/{f}")
        fetch_file(f"{info.url}/{f}", path, info.file_record(f), info.name)
    return read_rec_dir(directory, info.name, info)
