"""PyTorch modules: the hand-written recurrences, their fused twins, the convolutional
front end, pooling, the network and its stream."""

from .cells import gru_recurrence, lstm_recurrence, rnn_recurrence
from .frontend import ConvFrontEnd, MaskedBatchNorm, StepLayerNorm, default_kernels
from .network import SequenceNetwork
from .pooling import POOLINGS, AttentionPool, LastPool, MaxPool, MeanPool
from .recurrent import CELLS, ExplicitRecurrent, FusedGRU, FusedLSTM, FusedRNN, make_recurrent
from .streaming import NetworkStream

__all__ = [
    "CELLS",
    "POOLINGS",
    "AttentionPool",
    "ConvFrontEnd",
    "ExplicitRecurrent",
    "FusedGRU",
    "FusedLSTM",
    "FusedRNN",
    "LastPool",
    "MaskedBatchNorm",
    "MaxPool",
    "MeanPool",
    "NetworkStream",
    "SequenceNetwork",
    "StepLayerNorm",
    "default_kernels",
    "gru_recurrence",
    "lstm_recurrence",
    "make_recurrent",
    "rnn_recurrence",
]
