"""A check shared by the LA-GNN model and training tests."""


def assert_lagnn_init(conv) -> None:
    """``conv``'s weight and bias drawn as the LA-GNN code's ``GraphConvolution``:
    N(-1/sqrt(out), 1/out), checked on their mean and spread."""
    out = conv.lin.weight.size(0)
    s = out ** -0.5
    w = conv.lin.weight.detach().double()
    n = w.numel()
    assert abs(w.mean().item() + s) < 5 * s / n ** 0.5
    assert abs(w.std().item() - s) < 5 * s / (2 * n) ** 0.5
    assert conv.bias.mean().item() < 0 and conv.bias.abs().max().item() < 7 * s
