"""Loaders of the public data sets the applications use."""

from ._home import get_data_home

__all__ = ["get_data_home"]
