"""Stacked, optionally bidirectional recurrent layers, in two interchangeable backends.

``ExplicitRecurrent`` runs the hand-written recurrences of :mod:`sklstm.nn.cells`;
``FusedLSTM``, ``FusedGRU`` and ``FusedRNN`` are ``torch.nn.LSTM``/``GRU``/``RNN``.
Both register their parameters under torch's names (``weight_ih_l0``,
``bias_hh_l1_reverse``, ...) with torch's shapes and gate order, so a state dict
saved from one backend loads into the other and gives the same outputs.

Both take time-major padded input ``x [shape=(T, B, F)]`` with ``lengths
[shape=(B,)]`` and return ``[shape=(T, B, D * H)]``. Outputs at padded positions
(``t >= lengths[b]``) are unspecified: callers pool over valid steps only.
Variable lengths cost nothing in the forward direction (a step never looks
ahead, so padding after a sequence cannot change its valid outputs); the reverse
direction reverses every sequence within its own length, so that it, too, starts
at the sequence's last valid step.
"""

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .cells import LSTM_GATE_ORDER, gru_recurrence, lstm_recurrence, rnn_recurrence

__all__ = ["CELLS", "ExplicitRecurrent", "FusedGRU", "FusedLSTM", "FusedRNN", "make_recurrent"]

#: Number of gate blocks stacked in each cell's weight matrices.
CELLS = {"lstm": 4, "gru": 3, "rnn": 1}


def reverse_index(lengths, total_length):
    """Flat row index that reverses each sequence within its own length.

    Parameters
    ----------
    lengths : Tensor [shape=(B,)]
    total_length : int
        Padded length ``T``.

    Returns
    -------
    index : Tensor [shape=(T * B,)]
        For a time-major tensor viewed as ``(T * B, ...)``, row ``t * B + b`` takes
        row ``(lengths[b] - 1 - t) * B + b`` for ``t < lengths[b]`` and stays put
        otherwise. Applying it twice is the identity.
    """
    batch = lengths.shape[0]
    t = torch.arange(total_length, device=lengths.device).unsqueeze(1)
    source = torch.where(t < lengths, lengths - 1 - t, t)
    return (source * batch + torch.arange(batch, device=lengths.device)).reshape(-1)


class ExplicitRecurrent(nn.Module):
    """Recurrent layers computed from the gate equations.

    Parameters
    ----------
    input_size : int
        Features per time step.
    hidden_size : int
        Hidden units per direction.
    num_layers : int, default=1
        Stacked layers.
    bidirectional : bool, default=False
        Whether each layer also reads the sequence backwards.
    dropout : float, default=0.0
        Dropout on the outputs of every layer but the last, as in ``torch.nn.LSTM``.
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        The recurrence (the RNN is Elman's with ``tanh``).
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        cell="lstm",
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}.")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.cell = cell
        gates = CELLS[cell] * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                self.register_parameter(
                    f"weight_ih{suffix}", nn.Parameter(torch.empty(gates, layer_input))
                )
                self.register_parameter(
                    f"weight_hh{suffix}", nn.Parameter(torch.empty(gates, hidden_size))
                )
                self.register_parameter(f"bias_ih{suffix}", nn.Parameter(torch.empty(gates)))
                self.register_parameter(f"bias_hh{suffix}", nn.Parameter(torch.empty(gates)))
        self.reset_parameters()

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    def _suffixes(self, layer):
        return [f"_l{layer}"] + ([f"_l{layer}_reverse"] if self.bidirectional else [])

    def reset_parameters(self):
        """Uniform(-1/sqrt(H), 1/sqrt(H)), torch.nn.LSTM's initialization."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def _gate_permutation(self, device):
        if self.cell != "lstm":
            return None
        H = self.hidden_size
        return torch.cat(
            [torch.arange(k * H, (k + 1) * H, device=device) for k in LSTM_GATE_ORDER]
        )

    def _layer_weights(self, layer, perm):
        """Input weights and bias of all directions, and per-direction recurrent weights."""
        w_ih, bias, w_hh, b_hh = [], [], [], []
        for suffix in self._suffixes(layer):
            w_ih.append(getattr(self, f"weight_ih{suffix}"))
            w_hh.append(getattr(self, f"weight_hh{suffix}"))
            if self.cell == "gru":  # b_hn sits inside r * (W_hn h + b_hn)
                bias.append(getattr(self, f"bias_ih{suffix}"))
                b_hh.append(getattr(self, f"bias_hh{suffix}"))
            else:
                bias.append(getattr(self, f"bias_ih{suffix}") + getattr(self, f"bias_hh{suffix}"))
        w_ih, bias, w_hh = torch.cat(w_ih), torch.cat(bias), torch.stack(w_hh)
        if perm is not None:
            n_gates = perm.shape[0]
            full = torch.cat([perm + d * n_gates for d in range(len(w_hh))])
            w_ih, bias, w_hh = w_ih[full], bias[full], w_hh[:, perm]
        return w_ih, bias, w_hh, (torch.stack(b_hh) if b_hh else None)

    def forward(self, x, lengths):
        """Run all layers.

        Parameters
        ----------
        x : Tensor [shape=(T, B, input_size)]
            Time-major padded batch.
        lengths : Tensor [shape=(B,)]
            Valid steps of each sequence, each in ``[1, T]``.

        Returns
        -------
        output : Tensor [shape=(T, B, D * hidden_size)]
        """
        T, B, _ = x.shape
        H, D = self.hidden_size, self.num_directions
        n_gates = CELLS[self.cell] * H
        rev = reverse_index(lengths.to(x.device), T) if self.bidirectional else None
        perm = self._gate_permutation(x.device)
        h0 = x.new_zeros(D, B, H)
        out = x
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                out = nn.functional.dropout(out, self.dropout, self.training)
            w_ih, bias, w_hh, b_hh = self._layer_weights(layer, perm)
            xp = torch.addmm(bias, out.reshape(T * B, -1), w_ih.t())
            if D == 1:
                xp = xp.view(T, 1, B, n_gates)
            else:
                backward_xp = xp[:, n_gates:].index_select(0, rev)
                xp = torch.stack(
                    [xp[:, :n_gates].view(T, B, n_gates), backward_xp.view(T, B, n_gates)], 1
                )
            if self.cell == "lstm":
                hs = lstm_recurrence(xp, h0, h0, w_hh)
            elif self.cell == "gru":
                hs = gru_recurrence(xp, h0, w_hh, b_hh)
            else:
                hs = rnn_recurrence(xp, h0, w_hh)
            if D == 1:
                out = hs[:, 0]
            else:
                backward_hs = hs[:, 1].reshape(T * B, H).index_select(0, rev).view(T, B, H)
                out = torch.cat([hs[:, 0], backward_hs], dim=-1)
        return out

    def extra_repr(self):
        return (
            f"{self.input_size}, {self.hidden_size}, cell={self.cell!r}, "
            f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, "
            f"dropout={self.dropout}"
        )


class _LengthAwareForward:
    """``forward(x, lengths)`` for torch.nn's fused RNN modules.

    Unidirectional layers run on the padded batch as it is (padding after a
    sequence never reaches its valid steps); bidirectional ones pack when the
    lengths differ, so that the reverse direction starts at each sequence's end.
    """

    def forward(self, x, lengths):
        T = x.shape[0]
        if self.bidirectional and bool((lengths != T).any()):
            packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            output, _ = super().forward(packed)
            return pad_packed_sequence(output, total_length=T)[0]
        return super().forward(x)[0]


class FusedLSTM(_LengthAwareForward, nn.LSTM):
    """``torch.nn.LSTM`` with ``forward(x, lengths)``.

    Parameters
    ----------
    *args, **kwargs
        Those of ``torch.nn.LSTM``; ``batch_first`` must stay False.
    """


class FusedGRU(_LengthAwareForward, nn.GRU):
    """``torch.nn.GRU`` with ``forward(x, lengths)``.

    Parameters
    ----------
    *args, **kwargs
        Those of ``torch.nn.GRU``; ``batch_first`` must stay False.
    """


class FusedRNN(_LengthAwareForward, nn.RNN):
    """``torch.nn.RNN`` (tanh) with ``forward(x, lengths)``.

    Parameters
    ----------
    *args, **kwargs
        Those of ``torch.nn.RNN``; ``batch_first`` must stay False.
    """


_FUSED = {"lstm": FusedLSTM, "gru": FusedGRU, "rnn": FusedRNN}


def make_recurrent(*, backend, cell, input_size, hidden_size, num_layers, bidirectional, dropout):
    """Build the recurrent layers for ``backend`` in ``{"explicit", "fused"}``."""
    kwargs = dict(
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bidirectional=bidirectional,
        # Dropout acts between layers only; torch warns when one layer gets it.
        dropout=dropout if num_layers > 1 else 0.0,
    )
    if backend == "explicit":
        return ExplicitRecurrent(cell=cell, **kwargs)
    if backend == "fused":
        return _FUSED[cell](**kwargs)
    raise ValueError(f"backend must be 'explicit' or 'fused', got {backend!r}.")
