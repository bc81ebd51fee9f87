"""glt's differentiable reductions: scatter, segment, spmm and group softmax; dropout
and a linear map that take sparse node features; products of gathered rows and a
weighted logistic loss over them."""
from glt.ops.dropout import dropout
from glt.ops.backend import BACKENDS, get_backend, has_torch_scatter, set_backend, use_backend
from glt.ops.linear import linear
from glt.ops.pair import gather_dot, pair_product
from glt.ops.scatter import scatter, sort_index
from glt.ops.segment import segment
from glt.ops.softmax import scatter_softmax, segment_softmax
from glt.ops.softplus_dot import softplus_dot_loss
from glt.ops.spmm import spmm

__all__ = ["BACKENDS", "get_backend", "has_torch_scatter", "set_backend", "use_backend",
           "scatter", "segment", "spmm", "scatter_softmax", "segment_softmax", "sort_index",
           "dropout", "gather_dot", "linear", "pair_product", "softplus_dot_loss"]
