"""LSTMTagger: sequence labelling, one class per time step."""

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._base import _BaseLSTM, compose_docstring
from ._sequences import Sequences, validate_sequences
from ._training import StepCrossEntropy, StepTargets
from .classifier import LSTMClassifier, class_weights

__all__ = ["LSTMTagger"]


class LSTMTagger(_BaseLSTM):
    __doc__ = compose_docstring(
        """Recurrent neural network that labels every time step of a sequence.

    Sequence labelling (tagging): ``y`` holds one class per step, and the
    network maps each step's recurrent output to class probabilities with a
    linear layer and softmax, trained with the cross-entropy of every valid
    step. With ``bidirectional=True`` each label sees the whole sequence; with
    the default ``False`` (and no front end, whose kernels read a few steps
    ahead) it sees the steps up to its own, as a causal model run over a
    stream does. Voice activity per frame, the class of every
    heartbeat of a record, an anomaly flag per sample: one label per step.

    Sequences may be a 3D array ``(n_samples, n_timesteps, n_features)``, a
    list of ``(n_timesteps_i, n_features)`` arrays of different lengths, or a
    2D array ``(n_samples, n_timesteps)`` of univariate series; ``y`` is then
    a list of ``(n_timesteps_i,)`` label arrays, or a 2D array
    ``(n_samples, n_timesteps)``. A sequence's labels do not depend on the
    other sequences it is batched with, nor on padding.

    scikit-learn's estimators take one target per sample, so some of its tools
    do not apply: ``y`` is not one-dimensional and ``predict`` returns one
    array per sequence. ``clone``, ``Pipeline`` (transformers of ``X``),
    ``GridSearchCV`` and ``cross_val_score`` with a group or plain K-fold
    splitter work, scored by :meth:`score` (the accuracy over all steps).

    Parameters
    ----------
{recurrent_parameters}
    frontend : {{"conv"}} or None, default=None
        A learnable convolutional front end before the recurrent layers
        (:class:`~sklstm.nn.ConvFrontEnd`, without striding: one output per
        step), whose features of each step also join the output layer's input.
        Padding never changes a label.

    frontend_channels : int, default=64
        Channels of each of the front end's convolutions (ignored without a
        front end). Narrower than the sequence estimators' 128: here the
        convolutions run at every step of the sequence, not strided.

{static_parameters}
{training_parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, per step: ``{{label: weight}}``,
        or ``"balanced"`` for weights inversely proportional to the classes'
        frequencies over all steps. None weighs all classes equally. The keys
        are the labels themselves, of their own type.

{runtime_parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

{fitted_attributes}
    See Also
    --------
    LSTMClassifier : One class per sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMTagger
    >>> rng = np.random.RandomState(0)
    >>> X = [rng.randn(rng.randint(5, 15), 2) for _ in range(80)]
    >>> y = [(x[:, 0] > 0).astype(int) for x in X]  # a label per step
    >>> tagger = LSTMTagger(hidden_size=16, max_iter=20, random_state=0).fit(X, y)
    >>> [labels.shape for labels in tagger.predict(X[:2])]
    [(10,), (8,)]
""",
        input_noise=0.0,
        input_noise_note=(
            "\n        Off by default here: on the ECG application's tagger it did not\n"
            "        gain (docs/ecg_arrhythmia.md)."
        ),
    )

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in _BaseLSTM._parameter_constraints.items()
            if k not in ("pooling", "input_shift")
        },
        "frontend": [None, StrOptions({"conv"})],
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }

    def __init__(
        self,
        *,
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        cell="lstm",
        backend="fused",
        frontend=None,
        frontend_channels=64,
        n_static_features=0,
        solver="adam",
        alpha=1e-4,
        input_noise=0.0,
        batch_size="auto",
        learning_rate="one_cycle",
        learning_rate_init=1e-3,
        momentum=0.9,
        max_iter="auto",
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        class_weight=None,
        clip_grad_norm=None,
        warm_start=False,
        random_state=None,
        device="cpu",
        callbacks=None,
        verbose=0,
    ):
        super().__init__(
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            cell=cell,
            backend=backend,
            frontend=frontend,
            frontend_channels=frontend_channels,
            n_static_features=n_static_features,
            solver=solver,
            alpha=alpha,
            input_noise=input_noise,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            momentum=momentum,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            clip_grad_norm=clip_grad_norm,
            warm_start=warm_start,
            random_state=random_state,
            device=device,
            callbacks=callbacks,
            verbose=verbose,
        )
        self.class_weight = class_weight

    # -- hooks of the base class --------------------------------------------------------

    def _network_pooling(self):
        return None  # one output per step

    def _resolve_frontend(self, sequences):
        return self.frontend, 1  # never strided: every step keeps its output

    def _encode_target(self, y, *, reset, classes, sample_weight, lengths):
        labels = _step_labels(y, lengths)
        flat = np.concatenate(labels) if labels else np.zeros(0)
        check_classification_targets(flat)
        if classes is not None:
            _check_partial_fit_first_call(self, classes)
        elif reset:
            self.classes_ = np.unique(flat)
        unseen = np.setdiff1d(flat, self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels not seen in the classes of the first fit: {unseen.tolist()}."
            )
        encoded = np.searchsorted(self.classes_, flat).astype(np.int64)
        weights = np.ones(len(encoded), dtype=np.float32)
        if self.class_weight is not None:
            present = np.unique(encoded)
            per_class = np.ones(len(self.classes_))
            per_class[present] = class_weights(
                self.class_weight, classes=self.classes_[present], y=self.classes_[encoded]
            )
            weights = per_class[encoded].astype(np.float32)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return StepTargets(
            Sequences(encoded[:, None], offsets), Sequences(weights[:, None], offsets)
        )

    def _output_size(self):
        return len(self.classes_)

    def _criterion(self):
        return StepCrossEntropy()

    # The accuracy of the valid steps (ValidationScore hands over only those).
    _score_outputs = LSTMClassifier._score_outputs

    # -- public API ---------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network to label every step of the sequences ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Training sequences.
        y : list of array-like of shape (n_timesteps_i,), or array-like of \
                shape (n_samples, n_timesteps)
            The class of every step, each array as long as its sequence.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence's steps in the loss. None means equal weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(_BaseLSTM._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch over ``X`` from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Training sequences.
        y : list of array-like of shape (n_timesteps_i,), or array-like of \
                shape (n_samples, n_timesteps)
            The class of every step.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence's steps in the loss.
        classes : array-like of shape (n_classes,), default=None
            All classes that will ever appear. Required on the first call,
            ignored afterwards.

        Returns
        -------
        self : object
            The trained estimator.
        """
        if classes is None and not hasattr(self, "net_"):
            raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def _step_outputs(self, X):
        """Raw per-step outputs, and the layout to give them back in."""
        check_is_fitted(self, "net_")
        sequences = validate_sequences(self, X, reset=False)
        return self._predict_sequences(sequences), sequences

    def predict(self, X):
        """Predict the class of every step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        y : list of ndarray of shape (n_timesteps_i,), or ndarray of shape \
                (n_samples, n_timesteps)
            Labels of every step: a list for a list of sequences of different
            lengths, an array otherwise (equal lengths are stacked).
        """
        scores, sequences = self._step_outputs(X)
        return _as_input(self.classes_[scores.argmax(axis=1)], sequences)

    def predict_proba(self, X):
        """Class probabilities of every step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        proba : list of ndarray of shape (n_timesteps_i, n_classes), or \
                ndarray of shape (n_samples, n_timesteps, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        scores, sequences = self._step_outputs(X)
        return _as_input(softmax(scores.astype(np.float64), axis=1), sequences)

    def _stream_rows(self):
        """Raw network outputs of a stream -> its rows (class probabilities)."""
        return lambda raw: softmax(raw.astype(np.float64), axis=1)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities of every step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        log_proba : list of ndarray of shape (n_timesteps_i, n_classes), or \
                ndarray of shape (n_samples, n_timesteps, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        scores, sequences = self._step_outputs(X)
        return _as_input(log_softmax(scores.astype(np.float64), axis=1), sequences)

    def score(self, X, y, sample_weight=None):
        """Accuracy over all steps of all sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.
        y : list of array-like of shape (n_timesteps_i,), or array-like of \
                shape (n_samples, n_timesteps)
            True class of every step.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sequence's steps.

        Returns
        -------
        score : float
            The (weighted) share of steps labelled right.
        """
        scores, sequences = self._step_outputs(X)
        truth = np.concatenate(_step_labels(y, sequences.lengths))
        sample_weight = _check_sample_weight(sample_weight, np.empty(sequences.n_sequences))
        step_weight = np.repeat(sample_weight, sequences.lengths)
        correct = self.classes_[scores.argmax(axis=1)] == truth
        return float(np.average(correct, weights=step_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.one_d_labels = False
        return tags


def _step_labels(y, lengths):
    """``y`` as one 1D label array per sequence, each as long as its sequence."""
    if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
        rows = list(y)
    elif isinstance(y, (list, tuple, np.ndarray)):
        rows = [np.asarray(labels) for labels in y]
    else:
        raise TypeError(
            "y must hold the labels of every step: a list of 1D arrays (one per "
            f"sequence) or a 2D array, got {type(y).__name__}."
        )
    if len(rows) != len(lengths):
        raise ValueError(f"y has labels for {len(rows)} sequences, X has {len(lengths)}.")
    for i, (labels, length) in enumerate(zip(rows, lengths)):
        if labels.ndim != 1:
            raise ValueError(
                f"y[{i}] must be a 1D array of labels, one per step, got shape {labels.shape}."
            )
        if len(labels) != length:
            raise ValueError(
                f"y[{i}] has {len(labels)} labels, but sequence {i} of X has {length} steps."
            )
    return rows


def _as_input(values, sequences):
    """Per-step ``values`` (rows in the layout of ``sequences``) split as the input was."""
    if sequences.ragged:
        return [values[s:e] for s, e in zip(sequences.offsets[:-1], sequences.offsets[1:])]
    return values.reshape(sequences.n_sequences, -1, *values.shape[1:])
