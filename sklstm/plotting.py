"""Plots of fitted estimators (matplotlib, an optional dependency)."""

from sklearn.utils.validation import check_is_fitted

from ._matplotlib import pyplot

__all__ = ["plot_training_history"]


def plot_training_history(estimator, *, ax=None):
    """Plot the training (and validation) loss of every epoch.

    With ``early_stopping``, the validation loss is drawn too, the validation
    score on a second axis, and the restored best epoch is marked.

    Parameters
    ----------
    estimator : LSTMClassifier or LSTMRegressor
        Fitted estimator (or the last step of a fitted pipeline).
    ax : matplotlib.axes.Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The axes with the loss curves (the score axis is ``ax.right_ax`` when drawn).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklstm import LSTMClassifier
    >>> from sklstm.plotting import plot_training_history
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.randn(60, 5, 2), np.arange(60) % 2
    >>> clf = LSTMClassifier(hidden_size=4, early_stopping=True, learning_rate="constant",
    ...                      n_iter_no_change=2, tol=0.05, random_state=0).fit(X, y)
    >>> ax = plot_training_history(clf)
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['training loss', 'validation loss']
    """
    if hasattr(estimator, "steps"):
        estimator = estimator.steps[-1][1]
    check_is_fitted(estimator, "loss_curve_")
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(estimator.loss_curve_) + 1)
    ax.plot(epochs, estimator.loss_curve_, label="training loss", color="C0")
    validation_loss = getattr(estimator, "validation_loss_curve_", None)
    if validation_loss:
        ax.plot(
            range(1, len(validation_loss) + 1),
            validation_loss,
            label="validation loss",
            color="C1",
        )
    scores = getattr(estimator, "validation_scores_", None)
    handles, labels = ax.get_legend_handles_labels()
    if scores:
        right = ax.twinx()
        right.plot(
            range(1, len(scores) + 1), scores, label="validation score", color="C2", ls="--"
        )
        best = max(range(len(scores)), key=scores.__getitem__) + 1
        right.axvline(best, color="0.6", lw=1, ls=":", label=f"best epoch ({best})")
        right.set_ylabel("validation score")
        more_handles, more_labels = right.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
        ax.right_ax = right
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(f"{type(estimator).__name__} training history")
    ax.legend(handles, labels, loc="best")
    return ax
