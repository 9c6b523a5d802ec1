"""Where data sets live on disk."""

import os
from pathlib import Path

__all__ = ["get_data_home"]


def get_data_home(data_home=None):
    """The folder that holds sklstm's data sets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit folder. When None: the ``SKLSTM_DATA`` environment variable,
        else ``~/sklstm_data``.

    Returns
    -------
    path : pathlib.Path
        The folder (not created: fetchers create what they download into).
    """
    if data_home is None:
        data_home = os.environ.get("SKLSTM_DATA") or Path.home() / "sklstm_data"
    return Path(data_home).expanduser()
