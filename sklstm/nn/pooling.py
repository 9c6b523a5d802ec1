"""Pooling of recurrent outputs over the valid steps of each sequence.

Every pooling takes ``output [shape=(T, B, D * H)]`` and ``lengths [shape=(B,)]``
and returns ``[shape=(B, D * H)]``; padded steps never contribute.
"""

import torch
from torch import nn

__all__ = ["POOLINGS", "AttentionPool", "LastPool", "MaxPool", "MeanPool", "make_pooling"]


def valid_mask(lengths, total_length):
    """Boolean ``[shape=(T, B, 1)]``, True at the valid steps."""
    steps = torch.arange(total_length, device=lengths.device).unsqueeze(1)
    return (steps < lengths).unsqueeze(-1)


class LastPool(nn.Module):
    """The state after the last valid step of each direction.

    The forward direction's last state sits at ``lengths - 1``; the reverse
    direction's, having read the sequence backwards, at step 0.

    Parameters
    ----------
    hidden_size : int
        Hidden units per direction.
    num_directions : int
        1, or 2 for bidirectional layers.
    """

    def __init__(self, hidden_size, num_directions):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_directions = num_directions

    def forward(self, output, lengths):
        batch = torch.arange(output.shape[1], device=output.device)
        last = output[lengths - 1, batch]
        if self.num_directions == 1:
            return last
        H = self.hidden_size
        return torch.cat([last[:, :H], output[0, :, H:]], dim=-1)


class MeanPool(nn.Module):
    """Mean over the valid steps (no parameters)."""

    def __init__(self):
        super().__init__()

    def forward(self, output, lengths):
        mask = valid_mask(lengths, output.shape[0])
        total = output.masked_fill(~mask, 0.0).sum(0)
        return total / lengths.unsqueeze(-1).to(output.dtype)


class MaxPool(nn.Module):
    """Element-wise maximum over the valid steps (no parameters)."""

    def __init__(self):
        super().__init__()

    def forward(self, output, lengths):
        mask = valid_mask(lengths, output.shape[0])
        return output.masked_fill(~mask, float("-inf")).amax(0)


class AttentionPool(nn.Module):
    """Additive attention: softmax over steps of ``v^T tanh(W o_t + b)``.

    Parameters
    ----------
    size : int
        Features of each step's output (``D * H``).
    """

    def __init__(self, size):
        super().__init__()
        self.project = nn.Linear(size, size)
        self.score = nn.Linear(size, 1, bias=False)

    def forward(self, output, lengths):
        scores = self.score(torch.tanh(self.project(output)))
        scores = scores.masked_fill(~valid_mask(lengths, output.shape[0]), float("-inf"))
        return (torch.softmax(scores, dim=0) * output).sum(0)


POOLINGS = ("last", "mean", "max", "attention")


def make_pooling(pooling, *, hidden_size, num_directions):
    """Build the pooling named ``pooling`` (one of :data:`POOLINGS`)."""
    if pooling == "last":
        return LastPool(hidden_size, num_directions)
    if pooling == "mean":
        return MeanPool()
    if pooling == "max":
        return MaxPool()
    if pooling == "attention":
        return AttentionPool(hidden_size * num_directions)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
