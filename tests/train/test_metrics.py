import math

import pytest
import torch

from glt.train import accuracy, mean_std


def test_accuracy():
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(logits, torch.tensor([1, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="same number of rows"):
        accuracy(logits, torch.tensor([1]))
    with pytest.raises(ValueError, match="expected at least one row"):
        accuracy(logits[:0], torch.tensor([], dtype=torch.long))
    # 1-D scores (one per node) or float labels are not what accuracy reads
    with pytest.raises(ValueError, match=r"logits \[N, C\] and integer labels y \[N\]"):
        accuracy(logits[:, 0], torch.tensor([1, 1, 1]))
    with pytest.raises(ValueError, match=r"got shapes \(3, 2\) and \(3,\) \(torch.float32\)"):
        accuracy(logits, torch.tensor([1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match=r"got shapes \(3, 2\) and \(3, 1\)"):
        accuracy(logits, torch.tensor([[1], [1], [1]]))


def test_mean_std_is_sample_std():
    mean, std = mean_std([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and std == pytest.approx(math.sqrt(5 / 3))
    assert mean_std([0.7]) == (0.7, 0.0)
    with pytest.raises(ValueError):
        mean_std([])


def test_node_loss_is_torchs_for_classes_and_for_binary_tasks():
    from glt.train.metrics import node_loss
    torch.manual_seed(0)
    logits = torch.randn(6, 4)
    classes = torch.tensor([0, 3, 1, 1, 2, 0])
    assert torch.equal(node_loss(logits, classes), torch.nn.CrossEntropyLoss()(logits, classes))
    tasks = torch.randint(0, 2, (6, 4))  # ogbn-proteins' integer 0/1 labels
    torch.testing.assert_close(node_loss(logits, tasks),
                               torch.nn.BCEWithLogitsLoss()(logits, tasks.float()))
