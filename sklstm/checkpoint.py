"""Checkpoints after every epoch, and fits resumed from them to the same result.

Add :class:`ResumableCheckpoint` to an estimator's ``callbacks``; after every
epoch it writes the model together with what the rest of the fit needs (the
optimizer's state, the stopping rule's state, the epochs so far, the fit's
seed and a digest of the training data) in sklstm's data-only format.
:func:`load_checkpoint` returns the estimator ready to resume: its next ``fit``
on the same data trains the remaining epochs, and ends with the same weights,
predictions and fitted attributes as a fit that was never interrupted. This
holds because every epoch's shuffling and dropout are seeded from the fit's
seed and the epoch's number alone.

Examples
--------
>>> import numpy as np, os, tempfile
>>> from sklstm import LSTMRegressor
>>> from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint
>>> rng = np.random.RandomState(0)
>>> X, y = rng.randn(40, 5, 2), rng.randn(40)
>>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
>>> reg = LSTMRegressor(hidden_size=4, tol=10.0, n_iter_no_change=1,
...                     learning_rate="constant",
...                     callbacks=[ResumableCheckpoint(path)], random_state=0)
>>> reg = reg.fit(X, y)  # stops after 3 epochs, checkpointing after each
>>> resumed = load_checkpoint(path)  # as a restarted process would
>>> resumed.n_iter_
3
"""

import warnings

from skorch.callbacks import Callback

from . import _distributed
from .io import ModelFileError, load, save

__all__ = ["ResumableCheckpoint", "load_checkpoint"]

_KIND = "sklstm-checkpoint"


class ResumableCheckpoint(Callback):
    """Write a resumable checkpoint after every epoch (a skorch callback).

    Parameters
    ----------
    path : str or path-like
        The checkpoint file, replaced atomically after each epoch: a crash while
        writing leaves the previous checkpoint intact.
    """

    def __init__(self, path):
        self.path = path

    def bind_fit(self, estimator, *, seed, fingerprint, first_row):
        """Learn what to save; the estimator calls this at the start of each fit.

        Parameters
        ----------
        estimator : LSTMClassifier or LSTMRegressor
            The estimator being fitted.
        seed : int
            The fit's seed, from which every epoch's randomness derives.
        fingerprint : str
            Digest of the training data.
        first_row : int
            First row of the skorch history that belongs to this fit.
        """
        self._estimator = estimator
        self._seed = seed
        self._fingerprint = fingerprint
        self._first_row = first_row

    def on_epoch_end(self, net, **kwargs):
        """Write the checkpoint of the epoch that just ended.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained.
        **kwargs
            Ignored.
        """
        if _distributed.world() is not None and _distributed.world()[0] != 0:
            return  # one writer per data-parallel run
        epochs = [
            {k: v for k, v in row.items() if k != "batches" and isinstance(v, (int, float, bool))}
            for row in net.history[self._first_row :]
        ]
        training = {
            "seed": self._seed,
            "fingerprint": self._fingerprint,
            "epochs": epochs,
            "optimizer": net.optimizer_.state_dict(),
            "monitor": dict(net.callbacks_)["monitor"].get_state(),
        }
        with warnings.catch_warnings():
            # The callbacks themselves are not saved; the resumed fit gets new ones.
            warnings.simplefilter("ignore", UserWarning)
            save({"kind": _KIND, "estimator": self._estimator, "training": training}, self.path)

    def __getstate__(self):
        # A pickled model must not drag the estimator it trains along with it.
        state = self.__dict__.copy()
        state.pop("_estimator", None)
        return state


def load_checkpoint(path, *, callbacks=None):
    """Load a checkpoint; the returned estimator's next ``fit`` resumes training.

    Parameters
    ----------
    path : str or path-like
        A file written by :class:`ResumableCheckpoint`.
    callbacks : list of skorch callbacks, default=None
        Callbacks for the resumed fit. None keeps checkpointing to ``path``.

    Returns
    -------
    estimator : LSTMClassifier or LSTMRegressor
        Fitted as of the checkpoint (it predicts as the model did then).
        Call ``fit`` with the same ``X``, ``y`` and ``sample_weight`` to train
        the remaining epochs.

    Raises
    ------
    ModelFileError
        When ``path`` is a model file but not a checkpoint.
    """
    content = load(path)
    if not (isinstance(content, dict) and content.get("kind") == _KIND):
        raise ModelFileError(f"{path} is not an sklstm checkpoint.")
    estimator, training = content["estimator"], content["training"]
    estimator.set_params(callbacks=callbacks or [ResumableCheckpoint(path)])
    # Shown as of the checkpoint (n_iter_, loss_curve_ count its epochs); the
    # resumed fit starts again from the values the interrupted fit started with.
    epochs = training["epochs"]
    training["start"] = {"n_iter_": estimator.n_iter_, "loss_curve_": list(estimator.loss_curve_)}
    estimator.loss_curve_ = estimator.loss_curve_ + [float(e["train_loss"]) for e in epochs]
    estimator.n_iter_ += len(epochs)
    estimator._resume = training
    return estimator
