"""Neighbourhood, token and negative samplers over CSR graphs, and mini-batch loaders."""
from glt.samplers.loader import MiniBatch, NeighborLoader
from glt.samplers.negative import NegativeSampler
from glt.samplers.neighbor import NeighborSampler, SampledSubgraph
from glt.samplers.shard import Shard
from glt.samplers.tokens import TokenSampler

__all__ = ["MiniBatch", "NegativeSampler", "NeighborLoader", "NeighborSampler",
           "SampledSubgraph", "Shard", "TokenSampler"]
