"""glt: a graph learning toolkit for PyTorch."""
from glt.graph import CSRGraph
from glt.norm import gcn_norm
from glt.ops import scatter, scatter_softmax, segment, segment_softmax, spmm

__version__ = "0.1.0"

__all__ = ["CSRGraph", "gcn_norm", "scatter", "scatter_softmax", "segment", "segment_softmax",
           "spmm", "__version__"]
