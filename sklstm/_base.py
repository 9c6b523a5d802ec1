"""The shared machinery of LSTMClassifier and LSTMRegressor."""

import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_consistent_length, check_is_fitted
from skorch.callbacks import GradientNormClipping, LRScheduler, ProgressBar

from . import _distributed
from ._resume import check_same_data, data_fingerprint, restore_training
from ._sequences import feature_std, validate_sequences
from ._training import (
    BucketIterator,
    EpochSeeding,
    InputNoise,
    InputShift,
    LastCompletedEpoch,
    OneCycleSchedule,
    SequenceDataset,
    SequenceNet,
    TrainingMonitor,
    ValidationScore,
    epoch_seed,
    predict_raw,
)
from .nn import CELLS, POOLINGS, SequenceNetwork, default_kernels
from .nn.frontend import WIDE_STRIDE, three_block_kernels
from .streaming import SequenceStream

__all__ = ["_BaseLSTM"]

_SOLVERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "lbfgs": torch.optim.LBFGS}

# Inference batches: enough sequences to amortize the per-step overhead, and at
# most about this many floats of per-step activations, so that memory stays
# bounded whatever the number and lengths of the sequences.
_PREDICT_BATCH_SIZE = 512
_PREDICT_BATCH_FLOATS = 2**25

# max_iter="auto": enough epochs for about this many optimizer updates (small
# data sets need many epochs of a few mini-batches), within these bounds.
AUTO_UPDATES = 1500
AUTO_MIN_EPOCHS = 10
AUTO_MAX_EPOCHS = 500
# frontend="auto": the convolutional front end reads sequences of at least this
# many steps, and strides them down to at most about FRONTEND_TARGET_STEPS.
FRONTEND_AUTO_MIN_LENGTH = 8
FRONTEND_TARGET_STEPS = 64


# The built-in callbacks whose state continued training keeps (the others only
# hold settings, which set_params may have changed since).
_STATEFUL_CALLBACKS = frozenset(
    {
        "seeding",
        "input_noise",
        "input_shift",
        "valid_score",
        "monitor",
        "schedule",
        "last_completed_epoch",
    }
)


def auto_batch_size(n_train):
    """``batch_size="auto"``: small sets need small batches (many updates, some
    gradient noise); larger ones get up to 64 sequences per update."""
    return min(n_train, int(np.clip(n_train // 16, 16, 64)))


def auto_epochs(batches_per_epoch):
    """``max_iter="auto"``: epochs for about AUTO_UPDATES updates, within bounds."""
    epochs = -(-AUTO_UPDATES // batches_per_epoch)
    return int(np.clip(epochs, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS))


def resolve_device(device):
    """``"auto"`` becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None
    return device


def _cuda_devices(device):
    """The CUDA device indices whose random state a fit on ``device`` touches."""
    device = torch.device(resolve_device(device))
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


class _BaseLSTM(BaseEstimator, metaclass=ABCMeta):
    """Base class of the recurrent estimators. Use the subclasses."""

    _parameter_constraints: dict = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "cell": [StrOptions(set(CELLS))],
        "backend": [StrOptions({"explicit", "fused"})],
        "pooling": [StrOptions(set(POOLINGS))],
        "frontend": [None, StrOptions({"conv", "auto"})],
        "frontend_channels": [Interval(Integral, 1, None, closed="left")],
        "n_static_features": [Interval(Integral, 0, None, closed="left")],
        "solver": [StrOptions(set(_SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "input_noise": [Interval(Real, 0, None, closed="left")],
        "input_shift": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "one_cycle"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "clip_grad_norm": [None, Interval(Real, 0, None, closed="neither")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "device": [str],
        "callbacks": [None, list],
        "verbose": ["verbose"],
    }

    @abstractmethod
    def __init__(
        self,
        *,
        hidden_size,
        num_layers,
        bidirectional,
        dropout,
        cell,
        backend,
        frontend,
        frontend_channels,
        n_static_features,
        solver,
        alpha,
        input_noise,
        batch_size,
        learning_rate,
        learning_rate_init,
        momentum,
        max_iter,
        tol,
        n_iter_no_change,
        early_stopping,
        validation_fraction,
        clip_grad_norm,
        warm_start,
        random_state,
        device,
        callbacks,
        verbose,
    ):
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.cell = cell
        self.backend = backend
        self.frontend = frontend
        self.frontend_channels = frontend_channels
        self.n_static_features = n_static_features
        self.solver = solver
        self.alpha = alpha
        self.input_noise = input_noise
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.clip_grad_norm = clip_grad_norm
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose

    #: What the parameters added in 0.2 meant before: models pickled or saved
    #: by 0.1 have no front end, trained at a constant rate and without noise;
    #: those fitted before the width was a parameter have 64-channel front ends.
    _PARAMS_BEFORE_0_2 = {
        "frontend": None,
        "frontend_channels": 64,
        "learning_rate": "constant",
        "input_noise": 0.0,
    }

    def __setstate__(self, state):
        for name, value in self._PARAMS_BEFORE_0_2.items():
            state.setdefault(name, value)
        super().__setstate__(state)

    # -- hooks of the subclasses ------------------------------------------------

    @abstractmethod
    def _encode_target(self, y, *, reset, classes, sample_weight, lengths):
        """Validate ``y`` and return it encoded for the network (sets target attributes).

        ``lengths`` are those of the sequences ``y`` describes.
        """

    @abstractmethod
    def _output_size(self):
        """Number of network outputs."""

    @abstractmethod
    def _criterion(self):
        """The per-sample loss module (``reduction="none"``)."""

    @abstractmethod
    def _score_outputs(self, outputs, y_encoded, sample_weight):
        """The estimator's score from raw network outputs and encoded targets."""

    def _stratify(self, y_encoded):
        return None

    def _network_pooling(self):
        """The network's ``pooling``: one output per sequence, or None for one per step."""
        return self.pooling

    def _check_solver(self):
        """Availability of ``partial_fit``: one epoch makes no sense for full-batch L-BFGS."""
        if self.solver == "lbfgs":
            raise AttributeError(f"partial_fit is not available for solver={self.solver!r}.")
        return True

    # -- fitting ------------------------------------------------------------------

    @property
    def module_(self):
        """The trained :class:`~sklstm.nn.SequenceNetwork`."""
        check_is_fitted(self, "net_")
        return self.net_.module_

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on sequences ``X`` with targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features), list of \
                arrays of shape (n_timesteps_i, n_features), or array-like of \
                shape (n_samples, n_timesteps)
            Training sequences: a 3D array, a list of sequences of any lengths,
            or a 2D array of univariate series.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample in the loss. None means equal weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)

    def _fit(self, X, y, sample_weight, *, incremental, classes=None):
        before = dict(vars(self))
        try:
            return self._fit_interruptible(
                X, y, sample_weight, incremental=incremental, classes=classes
            )
        except KeyboardInterrupt:
            # Ctrl-C before a first fit completed an epoch, or outside training
            # (validating the input, recording the outcome): the estimator's
            # attributes are as they were before the call.
            vars(self).clear()
            vars(self).update(before)
            raise

    def _fit_interruptible(self, X, y, sample_weight, *, incremental, classes):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        resume = self.__dict__.pop("_resume", None)
        continuing = incremental or self.warm_start or resume is not None
        first_call = not (continuing and hasattr(self, "net_"))
        sequences = validate_sequences(self, X, reset=first_call)
        if self.n_static_features >= sequences.n_features:
            raise ValueError(
                f"n_static_features={self.n_static_features} leaves no step features: "
                f"the sequences have {sequences.n_features} features per step."
            )
        check_consistent_length(sequences.lengths, y)
        sample_weight = _check_sample_weight(
            sample_weight,
            np.empty(sequences.n_sequences),
            dtype=np.float64,
            ensure_non_negative=True,
        )
        y_encoded = self._encode_target(
            y,
            reset=first_call,
            classes=classes,
            sample_weight=sample_weight,
            lengths=sequences.lengths,
        )
        sample_weight = np.ascontiguousarray(
            sample_weight * self._target_weight(y_encoded), dtype=np.float32
        )
        _distributed.ensure_process_group(self.device)
        if resume is not None:
            seed = resume["seed"]
            check_same_data(resume["fingerprint"], sequences, y_encoded, sample_weight)
            for name, value in resume["start"].items():
                setattr(self, name, value)
        else:
            rng = check_random_state(self.random_state)
            seed = _distributed.broadcast_seed(int(rng.randint(np.iinfo(np.int32).max)))
        # Everything random below derives from the seed, so a resumed fit replays it.
        split_rng = np.random.RandomState(epoch_seed(seed, 0, 2))
        train_idx, valid_idx = self._split(
            sequences.n_sequences, y_encoded, split_rng, incremental
        )
        train = SequenceDataset(
            sequences.subset(train_idx), y_encoded[train_idx], sample_weight[train_idx]
        )
        valid = None
        if valid_idx is not None:
            valid = SequenceDataset(
                sequences.subset(valid_idx), y_encoded[valid_idx], sample_weight[valid_idx]
            )
        batch_size = self._effective_batch_size(len(train))
        batches_per_epoch = -(-len(train) // batch_size)
        epochs = 1 if incremental else self._planned_epochs(batches_per_epoch)

        # Seed torch for this fit only: the caller's global generators are restored.
        with torch.random.fork_rng(devices=_cuda_devices(self.device)):
            torch.manual_seed(seed)
            if first_call or not hasattr(self, "feature_scale_"):
                # (Models fitted before the attribute existed get it when training continues.)
                self.feature_scale_ = feature_std(train.sequences, self.n_static_features)
            if first_call:
                self.frontend_, self.frontend_stride_ = self._resolve_frontend(sequences)
                self.frontend_kernels_ = self.frontend_channels_ = None
                if self.frontend_ is not None:
                    self.frontend_kernels_ = default_kernels(self.frontend_stride_)
                    self.frontend_channels_ = self.frontend_channels
                self.net_ = self._build_net(sequences.n_features, batch_size)
                self.loss_curve_ = []
                self.n_iter_ = 0
                self.t_ = 0
            net = self.net_.ensure_optimizer()
            done = 0
            if resume is not None:
                done = restore_training(net, resume, self._callbacks())
            elif not first_call:
                self._refresh_callbacks(net)
            rows_before = len(net.history) - done  # skorch's history spans earlier fits
            net.max_epochs = max(epochs - done, 0)
            net.batch_size = batch_size
            net.weight_scale = train.mean_weight()
            net.validation_data = valid
            callbacks = dict(net.callbacks_)
            callbacks["seeding"].start(seed, self.n_iter_ + done)
            # partial_fit holds nothing out, whatever early_stopping says (as MLPClassifier).
            callbacks["monitor"].watch(
                "valid_score" if valid is not None else "train_loss",
                restore_best=valid is not None,
                tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
            )
            self._plan_schedule(callbacks, incremental, done, epochs, batches_per_epoch)
            # (A net pickled before input_noise or input_shift existed gained it in the refresh.)
            callbacks["input_noise"].start(self._noise_std(), seed, self.n_iter_ + done)
            callbacks["input_shift"].start(self._shift_steps(), seed, self.n_iter_ + done)
            for _, callback in net.callbacks_:
                if hasattr(callback, "bind_fit"):
                    fingerprint = data_fingerprint(sequences, y_encoded, sample_weight)
                    callback.bind_fit(
                        self, seed=seed, fingerprint=fingerprint, first_row=rows_before
                    )
            net.module_ = _distributed.wrap(net.module_, net.device)
            try:
                net.partial_fit(train)
            finally:
                net.validation_data = None  # never pickle the validation data
                net.module_ = _distributed.unwrap(net.module_)
        self._record_history(net, rows_before, len(train), incremental, first_call, epochs)
        return self

    def _refresh_callbacks(self, net):
        """Continued training runs the callbacks set since the net was built
        (``set_params`` of ``callbacks``, ``clip_grad_norm``, ``verbose``; the
        monitor takes ``tol`` and ``n_iter_no_change`` in ``watch``). The
        built-in callbacks that carry the training's state, and skorch's own
        (the best losses so far), stay as they are: the stopping monitor keeps
        its count, as MLPClassifier's does across ``partial_fit``."""
        kept = dict(net.callbacks_)
        keep = _STATEFUL_CALLBACKS | {name for name, _ in net.get_default_callbacks()}
        before = net.callbacks, net.callbacks_
        try:
            net.callbacks = self._callbacks()
            net.initialize_callbacks()
            net.callbacks_ = [
                (name, kept[name] if name in keep and name in kept else callback)
                for name, callback in net.callbacks_
            ]
        except BaseException:  # Ctrl-C included: the net stays as it was
            net.callbacks, net.callbacks_ = before
            raise
        net.verbose = self.verbose

    def _planned_epochs(self, batches_per_epoch):
        """``max_iter``, or for ``"auto"`` enough epochs for about AUTO_UPDATES updates."""
        if self.max_iter != "auto":
            return self.max_iter
        if self.solver == "lbfgs":
            return 200  # one full-batch quasi-Newton iteration per epoch
        return auto_epochs(batches_per_epoch)

    def _noise_std(self):
        """Per-feature standard deviation of the training noise: ``input_noise`` times
        ``feature_scale_``; 0 for ``"lbfgs"``, whose line search and curvature
        estimates need one deterministic objective."""
        if self.input_noise == 0 or self.solver == "lbfgs":
            return 0.0
        return self.input_noise * self.feature_scale_

    def _shift_steps(self):
        """Largest delay of the training series (``input_shift`` resolved): for
        ``"auto"``, the front end's stride minus one from stride 8 on, else 0; 0
        for one output per step (the labels would shift) and for ``"lbfgs"``."""
        if self._network_pooling() is None or self.solver == "lbfgs":
            return 0
        if self.input_shift != "auto":
            return self.input_shift
        if getattr(self, "frontend_", None) is None:
            return 0
        return self.frontend_stride_ - 1 if self.frontend_stride_ >= WIDE_STRIDE else 0

    def _rate_mode(self, incremental):
        """How this fit's learning rate is set: ``"cycle"``, ``"constant"`` or ``"off"``."""
        user = [c[1] if isinstance(c, tuple) else c for c in self.callbacks or []]
        if self.solver == "lbfgs" or any(isinstance(c, LRScheduler) for c in user):
            return "off"  # L-BFGS steps by line search; a user's scheduler takes precedence
        if self.learning_rate == "one_cycle" and not incremental:
            return "cycle"
        return "constant"  # partial_fit steps at the initial rate, whatever came before

    def _plan_schedule(self, callbacks, incremental, done, epochs, batches_per_epoch):
        """Plan this fit's learning rates; a planned cycle runs all its epochs."""
        mode = self._rate_mode(incremental)
        callbacks["monitor"].stop = mode != "cycle"
        callbacks["schedule"].start(
            done, epochs, batches_per_epoch, peak=self.learning_rate_init, mode=mode
        )

    def _resolve_frontend(self, sequences):
        """The front end to build (None or "conv") and its stride, from the training lengths."""
        longest = int(sequences.lengths.max())
        frontend = self.frontend
        if frontend == "auto":
            frontend = "conv" if longest >= FRONTEND_AUTO_MIN_LENGTH else None
        if frontend is None:
            return None, 1
        return frontend, max(1, -(-longest // FRONTEND_TARGET_STEPS))

    def _target_weight(self, y_encoded):
        """Extra weight of each sample from its target (class weights), or 1."""
        return 1.0

    def _split(self, n_samples, y_encoded, rng, incremental):
        indices = np.arange(n_samples)
        if not self.early_stopping or incremental:
            return indices, None
        try:
            return train_test_split(
                indices,
                test_size=self.validation_fraction,
                random_state=rng,
                stratify=self._stratify(y_encoded),
            )
        except ValueError:
            # Too few samples of some class to stratify: split at random instead.
            return train_test_split(indices, test_size=self.validation_fraction, random_state=rng)

    def _effective_batch_size(self, n_train):
        if self.solver == "lbfgs":
            return n_train
        if self.batch_size == "auto":
            return auto_batch_size(n_train)
        return min(self.batch_size, n_train)

    def _callbacks(self):
        """The built-in callbacks, then the user's."""
        monitor = "valid_score" if self.early_stopping else "train_loss"
        callbacks = [
            ("seeding", EpochSeeding(np.random.RandomState())),
            ("input_shift", InputShift()),
            ("input_noise", InputNoise()),
            ("valid_score", ValidationScore(self._score_outputs)),
            (
                "monitor",
                TrainingMonitor(
                    monitor, self.tol, self.n_iter_no_change, restore_best=self.early_stopping
                ),
            ),
        ]
        callbacks.append(("schedule", OneCycleSchedule()))
        if self.clip_grad_norm is not None:
            callbacks.append(("clip_grad_norm", GradientNormClipping(self.clip_grad_norm)))
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        # Last, so that an epoch counts as completed once every callback saw it end.
        return (
            callbacks
            + list(self.callbacks or [])
            + [("last_completed_epoch", LastCompletedEpoch())]
        )

    def _build_net(self, n_features, batch_size, device=None, optimizer=True):
        module = SequenceNetwork(
            input_size=n_features,
            output_size=self._output_size(),
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            cell=self.cell,
            backend=self.backend,
            pooling=self._network_pooling(),
            static_size=self.n_static_features,
            **self._frontend_params(),
        )
        if self.solver == "lbfgs":
            # L-BFGS's line search compares losses that float32 rounding blurs.
            module = module.double()
        callbacks = self._callbacks()
        optimizer_params = {"lr": self.learning_rate_init}
        if self.solver == "sgd":
            optimizer_params["momentum"] = self.momentum
        if self.solver == "lbfgs":
            optimizer_params.update(lr=1.0, max_iter=1, line_search_fn="strong_wolfe")
        net = SequenceNet(
            module,
            criterion=self._criterion(),
            optimizer=_SOLVERS[self.solver],
            **{f"optimizer__{k}": v for k, v in optimizer_params.items()},
            alpha=self.alpha,
            batch_size=batch_size,
            iterator_train=BucketIterator,
            iterator_train__shuffle=True,
            iterator_train__random_state=callbacks[0][1].random_state,  # "seeding"
            iterator_valid=BucketIterator,
            train_split=None,
            callbacks=callbacks,
            device=_distributed.process_device(
                resolve_device(self.device if device is None else device)
            ),
            verbose=self.verbose,
        )
        return net.initialize(optimizer=optimizer)

    def _frontend_params(self):
        """The fitted front end's arguments of :class:`~sklstm.nn.SequenceNetwork`."""
        # Models saved before the front end existed have none.
        frontend = getattr(self, "frontend_", None)
        if frontend is None:
            return {}
        stride = self.frontend_stride_
        # Models fitted before frontend_kernels_ existed have three blocks at any stride.
        kernels = getattr(self, "frontend_kernels_", None) or three_block_kernels(stride)
        return {
            "frontend": frontend,
            "frontend_stride": stride,
            "frontend_kernels": kernels,
            # Models fitted before the width was a parameter have 64 channels.
            "frontend_channels": getattr(self, "frontend_channels_", None) or 64,
        }

    def _record_history(self, net, first_row, n_train, incremental, first_call, epochs):
        monitor = dict(net.callbacks_)["monitor"]
        if monitor.diverged_ and first_call and monitor.completed_epochs_ == 0:
            del self.net_
            raise ValueError(
                "Training diverged in the first epoch (the loss became NaN or infinite); "
                "no usable model. Scale the inputs (SequenceScaler), lower "
                f"learning_rate_init (now {self.learning_rate_init}) or set clip_grad_norm."
            )
        # An epoch cut short (by convergence or Ctrl-C) has no train_loss and does not count.
        new_epochs = [e for e in net.history[first_row:] if "train_loss" in e]
        loss_curve = self.loss_curve_ + [float(e["train_loss"]) for e in new_epochs]
        if not loss_curve:
            raise KeyboardInterrupt("Training was interrupted before the first epoch completed.")
        fitted = {
            "loss_curve_": loss_curve,
            "loss_": loss_curve[-1],
            "n_iter_": self.n_iter_ + len(new_epochs),
            "t_": self.t_ + n_train * len(new_epochs),
            "interrupted_": net.interrupted_,
            "validation_scores_": None,
            "validation_loss_curve_": None,
            "best_validation_score_": None,
            "best_loss_": min(loss_curve),
        }
        if self.early_stopping and not incremental:
            validated = [e for e in new_epochs if "valid_score" in e]
            earlier = not first_call and getattr(self, "validation_scores_", None) is not None
            scores = (self.validation_scores_ if earlier else []) + [
                float(e["valid_score"]) for e in validated
            ]
            fitted.update(
                validation_scores_=scores,
                validation_loss_curve_=(self.validation_loss_curve_ if earlier else [])
                + [float(e["valid_loss"]) for e in validated],
                best_validation_score_=max(scores) if scores else None,
                best_loss_=None,
            )
        # One update: a Ctrl-C here leaves all of the outcome or none of it.
        vars(self).update(fitted)
        self._warn_about_outcome(monitor, len(new_epochs), incremental, epochs)

    def _warn_about_outcome(self, monitor, epochs, incremental, planned):
        kept = "best validation epoch" if self.early_stopping else "last completed epoch"
        if self.interrupted_:
            warnings.warn(
                f"Training was interrupted after {epochs} of {planned} epochs; the "
                f"weights of the {kept} were kept.",
                UserWarning,
            )
        elif monitor.diverged_:
            warnings.warn(
                f"Training diverged after {epochs} epoch(s) (the loss became NaN or "
                "infinite); the weights of the last completed epoch were kept. Lower "
                "learning_rate_init or set clip_grad_norm.",
                ConvergenceWarning,
            )
        elif incremental or monitor.converged_:
            return
        elif epochs == planned and monitor.stop:
            # (A schedule planned for all epochs ends there by design.)
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({planned}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    def to_onnx(self, path, *, opset=17, streaming=False, quantize=False):
        """Export the fitted network to an ONNX file (needs the ``onnx`` package).

        The graph takes batch-first padded ``x`` and ``lengths`` with dynamic
        batch size and length; with ``streaming``, one step and the carried
        state instead; see :func:`sklstm.export.export_onnx`.

        Parameters
        ----------
        path : str or path-like
            Destination file.
        opset : int, default=17
            ONNX opset version.
        streaming : bool, default=False
            Write the one-step graph of :meth:`stream` (states as explicit
            inputs and outputs; :func:`sklstm.export.stream_state` gives the
            initial state).
        quantize : bool, default=False
            Int8 weights for the recurrent and linear layers (onnxruntime's
            dynamic quantization): a file about four times smaller.

        Returns
        -------
        path : pathlib.Path
            The written file.
        """
        from .export import export_onnx

        return export_onnx(self, path, opset=opset, streaming=streaming, quantize=quantize)

    def stream(self, n_streams=None):
        """A stream that predicts for a sequence, or several, as their steps arrive.

        Feed the steps with ``stream.update(chunk)``, a chunk of shape
        ``(n_steps, n_features)`` at a time (``(n_streams, n_steps,
        n_features)`` with ``n_streams``); row ``k`` of what it returns is
        what this estimator predicts for the sequence up to that step (see
        :class:`~sklstm.streaming.SequenceStream`). Between chunks the stream
        carries the recurrent state, running pooling statistics and, with a
        front end, its last few input steps: memory stays constant however
        long the sequence. ``stream.reset()`` starts the next sequence.

        Parameters
        ----------
        n_streams : int or None, default=None
            None streams one sequence. An integer streams that many
            independent sequences side by side (many microphones, many
            patients) in one batched computation: chunks of shape
            ``(n_streams, n_steps, n_features)``, the same number of steps for
            each.

        Returns
        -------
        stream : SequenceStream
            A stream over this estimator's network as it is now.

        Raises
        ------
        ValueError
            For a bidirectional model, which needs a sequence's end to read it,
            and for an ``n_streams`` that is not a positive integer.
        """
        return SequenceStream(self, n_streams=n_streams)

    # -- prediction ---------------------------------------------------------------

    def _raw_predict(self, X):
        check_is_fitted(self, "net_")
        return self._predict_sequences(validate_sequences(self, X, reset=False))

    def _predict_sequences(self, sequences):
        """Network outputs of validated sequences (see :func:`predict_raw`)."""
        module = self.net_.module_
        device = next(module.parameters()).device
        directions = 2 if self.bidirectional else 1
        floats_per_step = sequences.n_features + directions * 4 * self.hidden_size
        if getattr(self, "frontend_", None) is not None:
            # Up to one convolution output per block and input step.
            floats_per_step += len(module.frontend.convs) * module.frontend.channels
        max_steps = max(1, _PREDICT_BATCH_FLOATS // floats_per_step)
        return predict_raw(module, sequences, _PREDICT_BATCH_SIZE, device, max_steps)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.non_deterministic = False
        return tags


_RECURRENT_PARAMETERS = """\
    hidden_size : int, default=64
        Hidden units of each recurrent layer, per direction (``torch.nn.LSTM``'s
        ``hidden_size``).

    num_layers : int, default=1
        Number of stacked recurrent layers.

    bidirectional : bool, default=False
        Whether each layer also reads the sequences backwards. The two
        directions' outputs are concatenated.

    dropout : float, default=0.0
        Dropout probability on the outputs of every recurrent layer but the
        last, as in ``torch.nn.LSTM``, and on what the output layer reads.

    cell : {"lstm", "gru", "rnn"}, default="lstm"
        The recurrence: long short-term memory, gated recurrent unit, or
        Elman's RNN with ``tanh``.

    backend : {"fused", "explicit"}, default="fused"
        ``"explicit"`` computes the cells from their gate equations in
        PyTorch, with hand-written backpropagation through time (see
        :mod:`sklstm.nn.cells`); ``"fused"`` runs ``torch.nn.LSTM``/``GRU``/
        ``RNN``. Both hold the same parameters under the same names and give
        the same outputs and gradients.

"""

_POOLING_PARAMETERS = """\
    pooling : {"last", "mean", "max", "attention"}, default="mean"
        How the outputs of all time steps become one vector per sequence:
        the state after the last valid step (of each direction), the mean or
        maximum over valid steps, or additive attention over valid steps.
        Padding never contributes.

    frontend : {"auto", "conv"} or None, default="auto"
        A learnable convolutional front end before the recurrent layers
        (:class:`~sklstm.nn.ConvFrontEnd`: three blocks of convolutions
        and ReLUs, four from stride 8 on, He-initialized, the
        second strided so that at most about 64 steps reach the recurrent
        layers, whose pooled output is joined at the head by the mean of the
        convolution features, as in LSTM-FCN). It reads local shape (peaks,
        slopes, notches) that a recurrent layer finds hard to learn one step
        at a time over hundreds of steps. ``"auto"``
        uses it when the longest training sequence has at least 8 steps, with
        stride ``ceil(longest / 64)``; ``"conv"`` always (same stride); None
        never. Padding never changes a prediction. Fixed at the first fit: see
        ``frontend_``.

    frontend_channels : int, default=128
        Channels of each of the front end's convolutions (ignored without a
        front end). Wider front ends read more kinds of local shape; on the
        public sets of the user guide ("Getting good results"), 128 gained
        over 64 on the shape sets (2,000-step PigCVP, the contours of
        ArrowHead and OSULeaf), lost on ACSF1, and fits took 1.1 to 2.7 times
        as long. Fixed at the first fit: see ``frontend_channels_``.

    input_shift : int or "auto", default="auto"
        Largest delay, in steps, of the training series: every training series
        of every batch is delayed by a number of steps drawn uniformly from
        ``0..input_shift`` (its first step repeated that many times in front of
        it; nothing of it is dropped), so that the network does not learn where
        the strided front end's grid happens to fall on each training series.
        ``"auto"`` is the front end's stride minus one from stride 8 on (series
        of more than 448 steps), and 0 otherwise; 0 disables it. Drawn afresh
        for every batch from ``random_state``; validation data and predictions
        are never shifted, and ``"lbfgs"`` does not use it.

"""

_STATIC_PARAMETERS = """\
    n_static_features : int, default=0
        Number of trailing features that describe a whole sequence rather
        than its steps (e.g. a heartbeat's RR intervals, repeated at every
        step of the beat's signal). They are read from each sequence's first
        step and join the pooled vector at the output layer instead of
        passing through the recurrent layers.
"""

_TRAINING_PARAMETERS = """\
    solver : {"adam", "sgd", "lbfgs"}, default="adam"
        The optimizer. ``"lbfgs"`` trains full-batch in float64, one
        quasi-Newton iteration (with a strong-Wolfe line search) per epoch; it
        suits small data sets and exact comparisons.

    alpha : float, default=1e-4
        Strength of the L2 penalty on the weight matrices, scaled as in
        :class:`~sklearn.neural_network.MLPClassifier`: ``0.5 * alpha *
        ||W||^2`` divided by the (weighted) number of samples in the batch.

    input_noise : float, default={input_noise_default}
        Standard deviation of Gaussian noise added to the inputs of every
        training batch, as a fraction of each feature's standard deviation
        (``feature_scale_``: over the training steps of the first fit, the
        share held out by ``early_stopping`` excluded; ``warm_start`` fits and
        ``partial_fit`` keep it). Jittering: a regularizer for small sets, which
        the networks otherwise fit exactly. Drawn afresh for every batch from
        ``random_state`` (under data-parallel training, by each process for its
        share); static features get it too; padding, validation data and
        predictions are never touched. 0 disables it, and ``"lbfgs"`` does not
        use it.{input_noise_note}

    batch_size : int or "auto", default="auto"
        Sequences per mini-batch; ``"auto"`` is ``n_samples // 16`` within
        ``[16, 64]`` (and at most ``n_samples``): small sets get small batches,
        hence more updates. Larger values are clipped to the training set size.
        Ignored by ``"lbfgs"``.

    learning_rate : {"one_cycle", "constant"}, default="one_cycle"
        Schedule of the step size of ``"adam"`` and ``"sgd"``.
        ``"one_cycle"`` warms up from ``learning_rate_init / 25`` to
        ``learning_rate_init`` over the first 30% of the planned updates, then
        anneals it to almost zero (a cosine each way), and trains every planned
        epoch: ``tol`` and ``n_iter_no_change`` do not stop it, and with
        ``early_stopping`` the best validation epoch's weights are restored at
        the end. ``"constant"`` keeps ``learning_rate_init`` and stops by
        ``tol``/``n_iter_no_change``, as :class:`~sklearn.neural_network.MLPClassifier`
        does. The schedule does not run for ``partial_fit`` (which steps at
        ``learning_rate_init``) nor for ``solver="lbfgs"``, and a skorch
        ``LRScheduler`` among ``callbacks`` takes precedence over it. Each
        ``fit`` with ``warm_start`` runs a new cycle.

    learning_rate_init : float, default=1e-3
        Step size of ``"adam"`` and ``"sgd"`` (with ``"one_cycle"``, its peak).

    momentum : float, default=0.9
        Momentum of ``"sgd"``.

    max_iter : int or "auto", default="auto"
        Maximum number of epochs (passes over the training set; for
        ``"lbfgs"``, iterations). ``"auto"`` plans enough epochs for about
        1,500 optimizer updates, at least 10 and at most 500 epochs (200
        iterations for ``"lbfgs"``): small data sets need many epochs of a few
        mini-batches to learn, large ones few. The number trained is
        ``n_iter_``.

    tol : float, default=1e-4
        Improvement of the training loss (or, with ``early_stopping``, of the
        validation score) below which an epoch counts as no improvement.
        Not used while the one-cycle schedule runs (see ``learning_rate``).

    n_iter_no_change : int, default=10
        Training stops after more than this many consecutive epochs without
        improvement, unless the one-cycle schedule runs (see
        ``learning_rate``).

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for
        classifiers) and restore the weights of the epoch with the best
        validation score; unless the one-cycle schedule runs, also stop when
        the validation score stalls.

    validation_fraction : float, default=0.1
        Share of the training data held out when ``early_stopping`` is True.
"""

_RUNTIME_PARAMETERS = """\
    clip_grad_norm : float, default=None
        If set, the gradient's global L2 norm is clipped to this value before
        every optimizer step (skorch's ``GradientNormClipping``).

    warm_start : bool, default=False
        Whether ``fit`` continues from the previous solution (weights and
        optimizer state) instead of starting anew; with the one-cycle schedule,
        each such ``fit`` warms up and anneals again over its own epochs.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, dropout, shuffling and the validation
        split. An int gives identical predictions on CPU from fit to fit.

    device : str, default="cpu"
        Torch device to train and predict on: ``"cpu"``, ``"cuda"``,
        ``"cuda:1"``..., or ``"auto"`` (CUDA when available). Fitted models
        pickle with their weights on CPU-loadable storage: a model trained on a
        GPU loads on a machine without one.

    callbacks : list of skorch callbacks, default=None
        Extra :mod:`skorch.callbacks` (``LRScheduler``, ``Checkpoint``, ...),
        as instances or ``(name, instance)`` pairs, run after the built-in
        ones. Changed with ``set_params``, they run from the next ``fit`` or
        ``partial_fit`` on, training continued or not.

    verbose : int, default=0
        ``1`` or more shows a progress bar per epoch and a table of the
        training and validation loss (and validation score) after each epoch.
"""

_FITTED_ATTRIBUTES = """\
    n_features_in_ : int
        Features per time step seen in ``fit``; for 2D input (univariate
        series), the number of columns, as scikit-learn counts them.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.

    net_ : skorch.NeuralNet
        The skorch net that trained the module, with its ``history``,
        optimizer and callbacks.

    module_ : sklstm.nn.SequenceNetwork
        The trained PyTorch network.

    frontend_ : {"conv"} or None
        The front end the network was built with (``frontend`` resolved).

    frontend_stride_ : int
        Downsampling of the front end (1 without one).

    frontend_channels_ : int or None
        Channels of the front end's convolutions (``frontend_channels`` at
        the first fit); None without a front end. Models fitted before the
        parameter existed lack the attribute and have 64.

    frontend_kernels_ : tuple of int or None
        Kernel sizes of the front end's blocks
        (:func:`~sklstm.nn.default_kernels` of the stride); None
        without a front end. Models fitted before the four-block front end
        of long series existed lack the attribute and keep their three
        blocks at any stride (:func:`~sklstm.nn.frontend.three_block_kernels`).

    feature_scale_ : ndarray of shape (n_step_features,)
        Standard deviation of each feature the network reads (per step; for
        2D input, the one feature of univariate series) over the training
        steps of the first fit, static features over the sequences; it scales
        ``input_noise``.

    loss_ : float
        Training loss of the last epoch.

    loss_curve_ : list of float
        Training loss of every epoch.

    best_loss_ : float or None
        Lowest training loss; None with ``early_stopping``.

    validation_scores_ : list of float or None
        Validation score of every epoch with ``early_stopping``, else None.

    validation_loss_curve_ : list of float or None
        Loss on the held-out data after every epoch with ``early_stopping``,
        else None.

    best_validation_score_ : float or None
        Best validation score with ``early_stopping``, else None.

    n_iter_ : int
        Number of epochs trained.

    interrupted_ : bool
        Whether Ctrl-C (SIGINT) cut the last ``fit`` or ``partial_fit`` short
        during training. The model then holds the last completed epoch (the
        best validation epoch up to it with ``early_stopping``), optimizer
        state included, and a ``UserWarning`` says so. Ctrl-C before a first
        ``fit`` completed an epoch raises KeyboardInterrupt and leaves the
        estimator unfitted. Not supported under data-parallel training, whose
        processes would each stop at their own batch.

    t_ : int
        Number of training samples seen.
"""


_NETWORK_PARAMETERS = _RECURRENT_PARAMETERS + _POOLING_PARAMETERS + _STATIC_PARAMETERS


def compose_docstring(template, *, input_noise=0.1, input_noise_note=""):
    """Fill the shared parameter and attribute sections into a class docstring.

    ``input_noise`` is the class's default of that parameter, and
    ``input_noise_note`` sentences appended to its description.
    """
    training = _TRAINING_PARAMETERS.replace("{input_noise_default}", repr(input_noise))
    training = training.replace("{input_noise_note}", input_noise_note)
    return template.format(
        network_parameters=_NETWORK_PARAMETERS,
        recurrent_parameters=_RECURRENT_PARAMETERS,
        static_parameters=_STATIC_PARAMETERS,
        training_parameters=training,
        runtime_parameters=_RUNTIME_PARAMETERS,
        fitted_attributes=_FITTED_ATTRIBUTES,
    )
