"""Link prediction models against OGB's example models on PyG's layers."""
import pytest
import torch
import torch.nn.functional as F

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
