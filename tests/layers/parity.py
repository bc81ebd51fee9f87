"""Helpers: the same weights in a glt layer and its PyG counterpart must give
the same outputs and gradients."""
import torch

# directed edges with a duplicate (0->1 twice), self-loops (3->3, 5->5) and an isolated node (7)
EDGE_INDEX = torch.tensor([[0, 0, 1, 2, 2, 3, 3, 4, 5, 6, 0, 5],
                           [1, 2, 0, 1, 4, 3, 6, 5, 5, 2, 1, 0]])
NUM_NODES = 8


def assert_same_outputs_and_grads(ours, theirs, ours_call, theirs_call, x, atol=1e-5):
    ours.load_state_dict(theirs.state_dict())
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    out1, out2 = ours_call(ours, x1), theirs_call(theirs, x2)
    torch.testing.assert_close(out1, out2, atol=atol, rtol=1e-5)
    grad = torch.randn_like(out1)
    out1.backward(grad)
    out2.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad, atol=atol, rtol=1e-5)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs_params[name].grad, atol=atol, rtol=1e-5,
                                   msg=f"gradient of {name}")
