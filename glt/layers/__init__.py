"""Message-passing layers on glt's CSR ops."""
from glt.layers.gat_conv import GATConv
from glt.layers.gcn_conv import GCNConv
from glt.layers.sage_conv import SAGEConv

__all__ = ["GCNConv", "GATConv", "SAGEConv"]
