"""Streaming inference: predictions for a sequence that arrives a chunk at a time.

``stream = estimator.stream()`` returns a :class:`SequenceStream`: feed it the
steps of one sequence as they come (audio frames, ECG samples, sensor
readings), and it answers, for every step, what the estimator predicts for the
sequence up to that step, carrying only the recurrent state between calls.

>>> import numpy as np
>>> from sklstm import LSTMClassifier
>>> rng = np.random.RandomState(0)
>>> X, y = rng.randn(40, 12, 2), np.arange(40) % 2
>>> clf = LSTMClassifier(max_iter=2, frontend=None, random_state=0).fit(X, y)
>>> stream = clf.stream()
>>> rows = np.vstack([stream.update(X[0, :5]), stream.update(X[0, 5:])])
>>> bool(np.allclose(rows[-1], clf.predict_proba(X[:1])[0], atol=1e-5))
True
"""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .nn.streaming import NetworkStream

__all__ = ["SequenceStream"]


class SequenceStream:
    """Predictions for every prefix of one sequence, fed a chunk at a time.

    Built by the estimators' ``stream()`` method. Row ``k`` of what
    :meth:`update` returns for a chunk is what the estimator's prediction
    method gives for the sequence from its first step up to that chunk's step
    ``k``: ``predict_proba`` for :class:`~sklstm.LSTMClassifier` and
    :class:`~sklstm.LSTMTagger` (the newest step's probabilities), ``predict``
    for :class:`~sklstm.LSTMRegressor`. Only the recurrent state, running
    pooling statistics and, with a front end, its last few input steps are
    kept: memory is constant however long the sequence.

    Parameters
    ----------
    estimator : LSTMClassifier, LSTMRegressor or LSTMTagger
        A fitted estimator with unidirectional recurrent layers. The stream
        works on a copy of its network taken when the stream is created:
        ``partial_fit`` or a refit of the estimator does not change it.
    n_streams : int or None, default=None
        None streams one sequence. An integer streams that many independent
        sequences side by side, in one batched computation: each chunk holds
        the next steps of every one of them, ``(n_streams, n_steps,
        n_features)``, and the rows come back in the same layout. Their
        outputs equal those of separate streams up to rounding (1e-6).

    Attributes
    ----------
    n_steps_ : int
        Steps of the current sequence fed so far.

    Notes
    -----
    The recurrent layers run in torch.nn's fused kernels whichever backend the
    estimator was trained with (the two share their weights and agree to
    1e-5 at each step; a model whose recurrent state amplifies small
    differences can drift further apart over thousands of steps). Pooled
    outputs are kept as running statistics: a running mean, a running
    maximum, or an online softmax for attention pooling. The front
    end's convolutions read a few steps past each step; its newest features
    are recomputed at every step until the steps they read have arrived.
    """

    def __init__(self, estimator, n_streams=None):
        check_is_fitted(estimator, "net_")
        self.estimator = estimator
        self.n_streams = n_streams
        self._network = NetworkStream(estimator.module_, n_streams=n_streams)
        # How raw outputs become predictions, as the estimator has it now (a refit
        # may change the classes or the target's scale).
        self._rows = estimator._stream_rows()
        # Features of each step (a model fitted on 2D univariate series has one).
        self._n_features = estimator._n_step_features

    @property
    def n_steps_(self):
        return self._network.n_steps

    def reset(self):
        """Start a new sequence: the next step fed is its first.

        Returns
        -------
        self : SequenceStream
            The stream, emptied.
        """
        self._network.reset()
        return self

    def update(self, chunk):
        """Feed the next steps of the sequence.

        Parameters
        ----------
        chunk : array-like of shape (n_steps, n_features), or (n_steps,) for a \
                model of one feature; with ``n_streams``, of shape \
                (n_streams, n_steps, n_features) or (n_streams, n_steps)
            The steps that follow those fed so far (``n_steps`` may be 0).

        Returns
        -------
        rows : ndarray of shape (n_steps, n_classes) for a classifier or \
                tagger, (n_steps,) or (n_steps, n_outputs) for a regressor; \
                with ``n_streams``, those shapes after a first axis of \
                ``n_streams``
            Row ``k``: the prediction for the sequence up to ``chunk[k]``.
        """
        steps = self._check_chunk(chunk)
        if self.n_streams is None:
            raw = self._network.update(torch.from_numpy(steps))
            return self._rows(raw.float().cpu().numpy())
        raw = self._network.update(torch.from_numpy(steps).transpose(0, 1))
        raw = raw.float().cpu().numpy().transpose(1, 0, 2)  # (n_streams, n_steps, outputs)
        rows = self._rows(raw.reshape(-1, raw.shape[2]))
        return rows.reshape(raw.shape[:2] + rows.shape[1:])

    def _check_chunk(self, chunk):
        try:
            # A copy: callers often refill one buffer with the next chunk.
            steps = np.array(chunk, dtype=np.float32, copy=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"chunk must be an array of numbers ({exc}).") from None
        given = steps.shape
        batch = () if self.n_streams is None else (self.n_streams,)
        if steps.ndim == 1 + len(batch) and self._n_features == 1:
            steps = steps[..., None]
        expected = (*batch, "n_steps", self._n_features)
        if (
            steps.shape[: len(batch)] != batch
            or steps.ndim != 2 + len(batch)
            or (steps.shape[-1] != self._n_features)
        ):
            what = "one sequence" if not batch else f"each of the {self.n_streams} sequences"
            raise ValueError(
                f"chunk must have shape ({', '.join(map(str, expected))}): the next steps of "
                f"{what} with the {self._n_features} features the model was fitted on; got "
                f"shape {given}."
            )
        if not np.isfinite(steps).all():
            raise ValueError("chunk contains NaN or infinity.")
        return np.ascontiguousarray(steps)

    def __repr__(self):
        streams = "" if self.n_streams is None else f", n_streams={self.n_streams}"
        return (
            f"SequenceStream({type(self.estimator).__name__}{streams}, n_steps_={self.n_steps_})"
        )
