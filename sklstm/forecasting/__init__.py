"""Forecasting with recurrent networks: supervised windows from series, and a forecaster."""

from ._forecaster import LSTMForecaster
from ._windows import SlidingWindows, make_windows

__all__ = ["LSTMForecaster", "SlidingWindows", "make_windows"]
