"""PyTorch modules: the hand-written recurrences, their fused twins, pooling and the network."""

from .cells import gru_recurrence, lstm_recurrence, rnn_recurrence
from .network import SequenceNetwork
from .pooling import POOLINGS, AttentionPool, LastPool, MaxPool, MeanPool
from .recurrent import CELLS, ExplicitRecurrent, FusedGRU, FusedLSTM, FusedRNN, make_recurrent

__all__ = [
    "CELLS",
    "POOLINGS",
    "AttentionPool",
    "ExplicitRecurrent",
    "FusedGRU",
    "FusedLSTM",
    "FusedRNN",
    "LastPool",
    "MaxPool",
    "MeanPool",
    "SequenceNetwork",
    "gru_recurrence",
    "lstm_recurrence",
    "make_recurrent",
    "rnn_recurrence",
]
