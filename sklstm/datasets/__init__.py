"""Loaders of the public data sets the applications use."""

from ._fsdd import fetch_fsdd
from ._home import get_data_home
from ._mitdb import fetch_mitdb

__all__ = ["fetch_fsdd", "fetch_mitdb", "get_data_home"]
