"""matplotlib, an optional dependency (the ``plots`` extra), imported when a plot is drawn."""


def pyplot():
    """``matplotlib.pyplot``, or an ImportError that names the extra to install."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "Plotting needs matplotlib: pip install 'sklstm[plots]' (or matplotlib)."
        ) from None
    return plt
