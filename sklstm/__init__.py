"""sklstm: recurrent networks (LSTM, GRU, RNN) as scikit-learn estimators."""

from .classifier import LSTMClassifier
from .forecasting import LSTMForecaster
from .io import load, save
from .preprocessing import FromChannelsFirst, PadTruncate, RunningMeanNormalizer, SequenceScaler
from .regressor import LSTMRegressor
from .tagger import LSTMTagger

__version__ = "0.1.0"

__all__ = [
    "FromChannelsFirst",
    "LSTMClassifier",
    "LSTMForecaster",
    "LSTMRegressor",
    "LSTMTagger",
    "PadTruncate",
    "RunningMeanNormalizer",
    "SequenceScaler",
    "__version__",
    "load",
    "save",
]
