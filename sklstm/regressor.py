"""LSTMRegressor: sequence regression with a recurrent network."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils import check_array
from sklearn.utils.metaestimators import available_if

from ._base import _BaseLSTM, compose_docstring
from ._training import HalfSquaredError

__all__ = ["LSTMRegressor"]


class LSTMRegressor(RegressorMixin, _BaseLSTM):
    __doc__ = compose_docstring(
        """Recurrent neural network regressor for sequences.

    Reads each sequence with LSTM (or GRU, or RNN) layers, pools the outputs
    over its valid time steps and maps them to one or several targets with a
    linear layer; trained on the squared error through skorch. Targets are
    standardized internally (mean and standard deviation of the training
    targets, weighted by ``sample_weight``) and predictions mapped back.

    Sequences may be a 3D array ``(n_samples, n_timesteps, n_features)``, a
    list of ``(n_timesteps_i, n_features)`` arrays of different lengths, or a
    2D array ``(n_samples, n_timesteps)`` of univariate series.

    Parameters
    ----------
{network_parameters}
{training_parameters}
{runtime_parameters}
    Attributes
    ----------
    n_outputs_ : int
        Number of targets.

{fitted_attributes}
    See Also
    --------
    LSTMClassifier : The same network for classification.
    sklearn.neural_network.MLPRegressor : The feed-forward network whose
        training parameters these follow.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(80, 12)  # 80 univariate series of 12 steps
    >>> y = X[:, -3:].sum(axis=1)
    >>> reg = LSTMRegressor(hidden_size=16, max_iter=20, random_state=0)
    >>> reg = reg.fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
"""
    )

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

    def _encode_target(self, y, *, reset, classes, sample_weight, lengths):
        y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
        if y.ndim > 2:
            raise ValueError(f"y must be 1D or 2D (n_samples, n_outputs), got shape {y.shape}.")
        y = y.reshape(len(y), -1)
        if reset:
            self.n_outputs_ = y.shape[1]
            weights = sample_weight if sample_weight.sum() > 0 else None
            self._y_mean = np.average(y, axis=0, weights=weights)
            scale = np.sqrt(np.average((y - self._y_mean) ** 2, axis=0, weights=weights))
            self._y_scale = np.where(scale > 0, scale, 1.0)
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} outputs, but {type(self).__name__} was fitted with "
                f"{self.n_outputs_}."
            )
        return ((y - self._y_mean) / self._y_scale).astype(np.float32)

    def _output_size(self):
        return self.n_outputs_

    def _criterion(self):
        return HalfSquaredError()

    def _score_outputs(self, outputs, y_encoded, sample_weight):
        weights = sample_weight if sample_weight.sum() > 0 else None
        return r2_score(y_encoded, outputs, sample_weight=weights)

    @available_if(_BaseLSTM._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch over ``X`` from the current weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Training sequences.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss.

        Returns
        -------
        self : object
            The trained estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predict the targets of each sequence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Sequences.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions; 1D when the model has one output.
        """
        y = self._raw_predict(X).astype(np.float64) * self._y_scale + self._y_mean
        return y.ravel() if self.n_outputs_ == 1 else y

    def _stream_rows(self):
        """Raw network outputs of a stream -> its rows (targets in their units)."""
        mean, scale = np.copy(self._y_mean), np.copy(self._y_scale)
        one = self.n_outputs_ == 1

        def rows(raw):
            y = raw.astype(np.float64) * scale + mean
            return y.ravel() if one else y

        return rows

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
