"""Pooling over valid steps, and predictions that do not depend on the batch."""

import numpy as np
import pytest
import torch

from sklstm.nn import POOLINGS, SequenceNetwork
from sklstm.nn.pooling import LastPool, MaxPool, MeanPool, make_pooling
from sklstm.nn.recurrent import reverse_index


def _outputs():
    # 3 steps, 2 sequences (lengths 3 and 2), 2 features per direction.
    out = torch.tensor(
        [
            [[1.0, 10.0], [4.0, 40.0]],
            [[2.0, 20.0], [5.0, 50.0]],
            [[3.0, 30.0], [99.0, 99.0]],  # step 2 of sequence 1 is padding
        ]
    )
    return out, torch.tensor([3, 2])


def test_mean_and_max_pooling_ignore_padding():
    out, lengths = _outputs()
    torch.testing.assert_close(MeanPool()(out, lengths), torch.tensor([[2.0, 20.0], [4.5, 45.0]]))
    torch.testing.assert_close(MaxPool()(out, lengths), torch.tensor([[3.0, 30.0], [5.0, 50.0]]))


def test_last_pooling_takes_last_valid_step_and_reverse_first_step():
    out, lengths = _outputs()
    torch.testing.assert_close(
        LastPool(2, 1)(out, lengths), torch.tensor([[3.0, 30.0], [5.0, 50.0]])
    )
    # Bidirectional with H=1: forward feature at the last valid step, reverse at step 0.
    torch.testing.assert_close(
        LastPool(1, 2)(out, lengths), torch.tensor([[3.0, 10.0], [5.0, 40.0]])
    )


def test_attention_pooling_gives_padding_zero_weight():
    torch.manual_seed(0)
    out, lengths = _outputs()
    pool = make_pooling("attention", hidden_size=2, num_directions=1)
    pooled = pool(out, lengths)
    # Changing the padded step must not change anything.
    out2 = out.clone()
    out2[2, 1] = -1e3
    torch.testing.assert_close(pool(out2, lengths), pooled)
    # A convex combination of the valid steps of sequence 1 lies between them.
    assert 4.0 <= pooled[1, 0] <= 5.0


def test_reverse_index_reverses_within_length_and_is_an_involution():
    lengths = torch.tensor([3, 1, 2])
    index = reverse_index(lengths, 3).view(3, 3)
    # Row t, column b holds the source row (t' * B + b).
    expected = torch.tensor([[2 * 3 + 0, 1, 1 * 3 + 2], [3 + 0, 3 + 1, 2], [0, 6 + 1, 6 + 2]])
    assert torch.equal(index, expected)
    flat = reverse_index(lengths, 3)
    assert torch.equal(flat[flat], torch.arange(9))


@pytest.mark.parametrize("backend", ["explicit", "fused"])
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_prediction_does_not_depend_on_batch_companions(backend, pooling, cell):
    """A sequence predicted alone equals it predicted beside much longer ones."""
    torch.manual_seed(0)
    net = SequenceNetwork(
        input_size=3,
        output_size=2,
        hidden_size=8,
        num_layers=2,
        bidirectional=True,
        cell=cell,
        backend=backend,
        pooling=pooling,
    ).eval()
    short = torch.randn(5, 1, 3)
    alone = net(short, torch.tensor([5]))
    batch = torch.randn(200, 4, 3) * 10  # long companions, garbage beyond step 5 of ours
    batch[:5, 2] = short[:, 0]
    together = net(batch, torch.tensor([200, 150, 5, 80]))
    np.testing.assert_allclose(together[2].detach(), alone[0].detach(), rtol=0, atol=1e-5)


def test_backends_give_same_network_outputs():
    torch.manual_seed(0)
    kwargs = dict(input_size=4, output_size=3, hidden_size=8, num_layers=2, bidirectional=True)
    explicit = SequenceNetwork(backend="explicit", pooling="attention", **kwargs)
    fused = SequenceNetwork(backend="fused", pooling="attention", **kwargs)
    fused.load_state_dict(explicit.state_dict())
    x, lengths = torch.randn(9, 5, 4), torch.tensor([9, 3, 7, 1, 5])
    torch.testing.assert_close(explicit(x, lengths), fused(x, lengths), rtol=0, atol=1e-5)


def test_static_features_bypass_the_recurrence_and_reach_the_head():
    torch.manual_seed(0)
    net = SequenceNetwork(input_size=4, output_size=2, hidden_size=6, static_size=1).eval()
    assert net.recurrent.input_size == 3 and net.head.in_features == 7
    x, lengths = torch.randn(5, 3, 4), torch.tensor([5, 2, 4])
    changed_later = x.clone()
    changed_later[1:, :, 3] = 100.0  # only step 0 carries the static value
    torch.testing.assert_close(net(changed_later, lengths), net(x, lengths))
    changed_first = x.clone()
    changed_first[0, :, 3] += 1.0
    # The static value enters the head linearly: its weight times the change.
    delta = net(changed_first, lengths) - net(x, lengths)
    torch.testing.assert_close(delta, net.head.weight[:, -1].expand(3, 2).detach())
