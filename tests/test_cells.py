"""The hand-written recurrences against autograd and against torch.nn."""

import pytest
import torch

from sklstm.nn import CELLS, ExplicitRecurrent, make_recurrent
from sklstm.nn.cells import gru_recurrence, lstm_recurrence, rnn_recurrence


@pytest.mark.parametrize("directions", [1, 2])
def test_lstm_recurrence_gradients_match_finite_differences(directions):
    g = torch.Generator().manual_seed(0)
    T, B, H = 4, 3, 2

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    inputs = (rand(T, directions, B, 4 * H), rand(directions, B, H), rand(directions, B, H))
    inputs += (rand(directions, 4 * H, H),)
    assert torch.autograd.gradcheck(lstm_recurrence, inputs)


@pytest.mark.parametrize("directions", [1, 2])
def test_gru_recurrence_gradients_match_finite_differences(directions):
    g = torch.Generator().manual_seed(1)
    T, B, H = 4, 3, 2

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    inputs = (rand(T, directions, B, 3 * H), rand(directions, B, H))
    inputs += (rand(directions, 3 * H, H), rand(directions, 3 * H))
    assert torch.autograd.gradcheck(gru_recurrence, inputs)


@pytest.mark.parametrize("directions", [1, 2])
def test_rnn_recurrence_gradients_match_finite_differences(directions):
    g = torch.Generator().manual_seed(2)
    T, B, H = 4, 3, 2

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)

    inputs = (rand(T, directions, B, H), rand(directions, B, H), rand(directions, H, H))
    assert torch.autograd.gradcheck(rnn_recurrence, inputs)


def test_lstm_step_follows_the_gate_equations():
    """One step by hand: f, i, g, o from [h, x], then c and h."""
    torch.manual_seed(0)
    layer = ExplicitRecurrent(3, 2, cell="lstm").double()
    x = torch.randn(1, 1, 3, dtype=torch.float64)
    h_prev = torch.zeros(2, dtype=torch.float64)
    c_prev = torch.zeros(2, dtype=torch.float64)
    W = torch.cat([layer.weight_ih_l0, layer.weight_hh_l0], dim=1)  # acts on [x, h]
    b = layer.bias_ih_l0 + layer.bias_hh_l0
    a = W @ torch.cat([x[0, 0], h_prev]) + b
    i, f, g, o = a.chunk(4)  # torch's gate order
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    out = layer(x, torch.tensor([1]))
    torch.testing.assert_close(out[0, 0], h, rtol=0, atol=1e-12)


def _copy_weights(source, target):
    target.load_state_dict(source.state_dict())


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_explicit_and_fused_backends_agree(cell, bidirectional, num_layers):
    """Same weights, same outputs and gradients (float32, max abs diff <= 1e-5)."""
    torch.manual_seed(0)
    kwargs = dict(
        cell=cell,
        input_size=5,
        hidden_size=16,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dropout=0.0,
    )
    explicit = make_recurrent(backend="explicit", **kwargs)
    fused = make_recurrent(backend="fused", **kwargs)
    _copy_weights(explicit, fused)
    lengths = torch.tensor([12, 9, 4, 1, 12])
    x = torch.randn(12, 5, 5)
    valid = (torch.arange(12)[:, None] < lengths).unsqueeze(-1)
    upstream = torch.randn(12, 5, 16 * (2 if bidirectional else 1)) * valid

    x_e, x_f = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_e, out_f = explicit(x_e, lengths), fused(x_f, lengths)
    assert (out_e * valid - out_f * valid).abs().max() <= 1e-5
    (out_e * upstream).sum().backward()
    (out_f * upstream).sum().backward()
    assert ((x_e.grad - x_f.grad) * valid).abs().max() <= 1e-5
    for (name, p_e), (_, p_f) in zip(explicit.named_parameters(), fused.named_parameters()):
        assert (p_e.grad - p_f.grad).abs().max() <= 1e-5, name


def test_backends_share_parameter_names_and_shapes():
    kwargs = dict(cell="lstm", input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    explicit = make_recurrent(backend="explicit", dropout=0.0, **kwargs)
    reference = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    assert {k: v.shape for k, v in explicit.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }


def test_explicit_dropout_acts_between_layers_only_in_training():
    torch.manual_seed(0)
    layer = ExplicitRecurrent(3, 8, num_layers=2, dropout=0.5)
    x, lengths = torch.randn(6, 4, 3), torch.full((4,), 6)
    layer.eval()
    torch.testing.assert_close(layer(x, lengths), layer(x, lengths))
    layer.train()
    assert not torch.allclose(layer(x, lengths), layer(x, lengths))


def test_unknown_cell_and_backend_are_rejected():
    with pytest.raises(ValueError, match="cell must be one of"):
        ExplicitRecurrent(3, 4, cell="transformer")
    with pytest.raises(ValueError, match="backend must be"):
        make_recurrent(
            backend="cudnn",
            cell="lstm",
            input_size=3,
            hidden_size=4,
            num_layers=1,
            bidirectional=False,
            dropout=0.0,
        )
