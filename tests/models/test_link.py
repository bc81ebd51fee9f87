"""Link prediction models against OGB's example models on PyG's layers."""
import pytest
import torch
import torch.nn.functional as F

from glt.graph import CSRGraph
from glt.models.link import LinkModel, LinkPredictor, link_encoder


def _pyg_reference(kind: str, model: LinkModel, num_layers: int):
    """OGB's examples/linkproppred/ddi model, on PyG's layers, with glt's weights."""
    from torch_geometric.nn import GCNConv, SAGEConv
    convs = []
    for conv in model.encoder.convs:
        if kind == "gcn":
            ref = GCNConv(conv.in_channels, conv.out_channels)
            ref.load_state_dict({"lin.weight": conv.lin.weight, "bias": conv.bias})
        else:
            ref = SAGEConv(conv.in_channels, conv.out_channels)
            ref.load_state_dict(conv.state_dict())
        convs.append(ref)

    def forward(x, edge_index, pairs):
        for conv in convs[:-1]:
            x = F.relu(conv(x, edge_index))
        h = convs[-1](x, edge_index)
        z = h[pairs[:, 0]] * h[pairs[:, 1]]
        for lin in model.predictor.lins[:-1]:
            z = F.relu(lin(z))
        return torch.sigmoid(model.predictor.lins[-1](z)).view(-1)
    return forward


@pytest.mark.parametrize("kind", ["gcn", "sage"])
def test_scores_equal_ogbs_model_on_pyg_layers(kind):
    torch.manual_seed(0)
    n, edges = 40, torch.randint(0, 40, (2, 200))
    model = LinkModel(link_encoder(kind, 8, 16, num_layers=3, dropout=0.5),
                      LinkPredictor(16, 16, num_layers=3, dropout=0.5), n, 8).eval()
    pairs = torch.randint(0, n, (50, 2))
    ours = torch.sigmoid(model.score(model.encode(None, edges), pairs))
    ref = _pyg_reference(kind, model, 3)(model.embedding.weight, edges, pairs)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_gcn_on_citations_is_ogbs_citation2_normalisation():
    """OGB's citation2 example: ``adj_t.to_symmetric()``, ``set_diag()`` (each
    node's self-loop weight 1, once), ``D^-1/2 A D^-1/2`` precomputed for GCNConv
    (normalize=False); here densely, against glt's GCN on the symmetric graph."""
    from glt.datasets import LinkDataset
    from glt.train.link import LinkTrainConfig, graphs
    torch.manual_seed(0)
    n = 25
    edges = torch.randint(0, n, (2, 70))
    edges = torch.cat([edges, torch.tensor([[3, 4, 7], [3, 7, 4]])], 1)  # a loop, both ways
    data = LinkDataset("citations", CSRGraph.from_edge_index(edges, n), torch.randn(n, 6),
                       {"train": {"source_node": edges[0], "target_node": edges[1]}})
    graph, _ = graphs(data, LinkTrainConfig(symmetric=True))
    model = LinkModel(link_encoder("gcn", 6, 8, num_layers=3, dropout=0.0),
                      LinkPredictor(8, 8, num_layers=3, dropout=0.0)).eval()
    adj = torch.zeros(n, n)
    adj[edges[0], edges[1]] = 1.0
    adj = ((adj + adj.t()) > 0).float()
    adj.fill_diagonal_(1.0)
    d = adj.sum(1).pow(-0.5)
    norm = d[:, None] * adj * d[None, :]
    h = data.x
    for i, conv in enumerate(model.encoder.convs):
        h = norm @ (h @ conv.lin.weight.t()) + conv.bias
        h = torch.relu(h) if i < 2 else h
    assert torch.allclose(model.encode(data.x, graph), h, atol=1e-5)


@pytest.mark.parametrize("name,kind,params", [
    ("ogbl-ddi", "sage", 1_421_057), ("ogbl-ddi", "gcn", 1_289_985),
    ("ogbl-ppa", "sage", 424_449), ("ogbl-ppa", "gcn", 278_529),
    ("ogbl-collab", "sage", 460_289), ("ogbl-collab", "gcn", 296_449),
    ("ogbl-citation2", "sage", 460_289), ("ogbl-citation2", "gcn", 296_449)])
def test_presets_have_ogbs_parameter_count(name, kind, params):
    """#Params of OGB's leaderboard entries for its ddi (learned embeddings of
    4,267 nodes), ppa (58 node features), collab and citation2 (128) examples."""
    from glt.recipes.link import PRESETS, make_model
    num_nodes, num_features = {"ogbl-ddi": (4267, None), "ogbl-ppa": (576_289, 58),
                               "ogbl-collab": (235_868, 128),
                               "ogbl-citation2": (2_927_963, 128)}[name]
    model = make_model(kind, num_nodes, num_features, PRESETS[name])
    assert sum(p.numel() for p in model.parameters()) == params


def test_features_or_embeddings():
    model = LinkModel(link_encoder("sage", 5, 8), LinkPredictor(8, 8))
    with pytest.raises(ValueError, match="expected node features x"):
        model.encode(None, torch.tensor([[0], [1]]))
    assert model.encode(torch.randn(3, 5), torch.tensor([[0], [1]])).shape == (3, 8)
    with pytest.raises(ValueError, match="expected the encoder 'gcn' or 'sage', got 'gat'"):
        link_encoder("gat", 5, 8)
    with pytest.raises(ValueError, match="expected embedding_dim"):
        LinkModel(link_encoder("sage", 5, 8), LinkPredictor(8, 8), num_nodes=3)
