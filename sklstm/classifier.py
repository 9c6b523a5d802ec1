"""LSTMClassifier: sequence classification with a recurrent network."""

import numpy as np
from scipy.special import log_softmax, softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, check_classification_targets
from sklearn.utils.validation import column_or_1d
from torch import nn

from ._base import _BaseLSTM, compose_docstring

__all__ = ["LSTMClassifier"]


def class_weights(class_weight, *, classes, y):
    """Weight of each of ``classes``: :func:`~sklearn.utils.class_weight.compute_class_weight`'s.

    A dict is looked up with the classes as they are: scikit-learn 1.9 turns
    classes that read as numbers ("0", "1", ... the labels of spoken digits)
    into ints first, so that ``{"0": 2.0}`` never matched the class "0" and
    every such fit failed.
    """
    if not isinstance(class_weight, dict):
        return compute_class_weight(class_weight, classes=classes, y=y)
    weight = np.ones(len(classes))
    unweighted = []
    for i, label in enumerate(classes.tolist()):
        if label in class_weight:
            weight[i] = class_weight[label]
        else:
            unweighted.append(label)
    if unweighted and len(classes) - len(unweighted) != len(class_weight):
        raise ValueError(f"The classes, {unweighted}, are not in class_weight")
    return weight


class LSTMClassifier(ClassifierMixin, _BaseLSTM):
    __doc__ = compose_docstring(
        """Recurrent neural network classifier for sequences.

    Reads each sequence with LSTM (or GRU, or RNN) layers, pools the outputs
    over its valid time steps and maps them to class probabilities with a
    linear layer and softmax; trained with cross-entropy through skorch.

    Sequences may be a 3D array ``(n_samples, n_timesteps, n_features)``, a
    list of ``(n_timesteps_i, n_features)`` arrays of different lengths, or a
    2D array ``(n_samples, n_timesteps)`` of univariate series. A sequence's
    prediction does not depend on the other sequences it is batched with.

    Parameters
    ----------
{network_parameters}
{training_parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, multiplied into ``sample_weight``:
        ``{{label: weight}}``, or ``"balanced"`` for weights inversely
        proportional to class frequencies. None weighs all classes equally.
        The keys are the labels themselves, of their own type (``"0"``, not
        ``0``, for string labels).

{runtime_parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

{fitted_attributes}
    See Also
    --------
    LSTMRegressor : The same network for regression.
    sklearn.neural_network.MLPClassifier : The feed-forward network whose
        training parameters these follow.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = [rng.randn(rng.randint(5, 15), 3) for _ in range(60)]
    >>> y = np.array([int(x[:, 0].mean() > 0) for x in X])
    >>> clf = LSTMClassifier(hidden_size=16, max_iter=20, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
"""
    )

    _parameter_constraints: dict = {
        **_BaseLSTM._parameter_constraints,
        "class_weight": [None, dict, StrOptions({"balanced"})],
    }

    #: Files and pickles written before ``input_shift`` existed trained without it.
    _PARAMS_BEFORE_0_2 = {**_BaseLSTM._PARAMS_BEFORE_0_2, "input_shift": 0}

    def __init__(
        self,
        *,
        hidden_size=64,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        cell="lstm",
        backend="fused",
        pooling="mean",
        frontend="auto",
        frontend_channels=128,
        input_shift="auto",
        n_static_features=0,
        solver="adam",
        alpha=1e-4,
        input_noise=0.1,
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
        self.pooling = pooling
        self.input_shift = input_shift
        self.class_weight = class_weight

    def _encode_target(self, y, *, reset, classes, sample_weight, lengths):
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if classes is not None:
            _check_partial_fit_first_call(self, classes)
        elif reset:
            self.classes_ = np.unique(y)
        unseen = np.setdiff1d(y, self.classes_)
        if len(unseen):
            raise ValueError(
                f"y contains labels not seen in the classes of the first fit: {unseen.tolist()}."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _target_weight(self, y_encoded):
        if self.class_weight is None:
            return 1.0
        weights = class_weights(
            self.class_weight, classes=self.classes_, y=self.classes_[y_encoded]
        )
        return weights[y_encoded]

    def _stratify(self, y_encoded):
        return y_encoded

    def _output_size(self):
        return len(self.classes_)

    def _criterion(self):
        return nn.CrossEntropyLoss(reduction="none")

    def _score_outputs(self, outputs, y_encoded, sample_weight):
        correct = outputs.argmax(axis=1) == y_encoded
        return np.average(correct, weights=sample_weight if sample_weight.sum() > 0 else None)

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
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.
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

    def predict(self, X):
        """Predict the class of each sequence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        scores = self._raw_predict(X)
        return self.classes_[scores.argmax(axis=1)]

    def predict_proba(self, X):
        """Class probabilities of each sequence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        return softmax(self._raw_predict(X).astype(np.float64), axis=1)

    def _stream_rows(self):
        """Raw network outputs of a stream -> its rows (class probabilities)."""
        return lambda raw: softmax(raw.astype(np.float64), axis=1)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities of each sequence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        return log_softmax(self._raw_predict(X).astype(np.float64), axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags
