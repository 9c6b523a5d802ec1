"""The arrhythmia model of single beats: beat tables or records in, AAMI classes out.

:class:`ArrhythmiaClassifier` is what ``python -m pipelines.ecg_arrhythmia train
--kind beat`` trains (and, by default, the beat model beside the tagger of
:class:`~sklstm.ecg.ArrhythmiaTagger`), as an estimator: it fits on the beat tables that its own
:meth:`~ArrhythmiaClassifier.load_beats` reads (so that ``GridSearchCV`` with
``GroupKFold`` by record searches it like any classifier), and classifies the
beats of whole records with :meth:`~ArrhythmiaClassifier.annotate`.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state

from ..checkpoint import ResumableCheckpoint
from ..classifier import LSTMClassifier
from ..preprocessing import SequenceScaler
from ._beats import RR_RATIOS, BeatSequences
from ._model import _RECORD_CONSTRAINTS, _BaseArrhythmia, record_docstring
from ._records import AAMI_CLASSES

__all__ = ["ArrhythmiaClassifier"]

# Beats classified at once: bounds the memory of the sequences built from them
# (a 24-hour record has over 100,000 beats). Predictions do not depend on it.
_PREDICT_BATCH = 8192
# Seeds of the members of an ensemble: far apart, so that no two members of
# neighbouring random_state values share one.
_MEMBER_SEED_STEP = 7919
# The settings of each member's LSTMClassifier that are not parameters here:
# those the application's figures were measured with (a beat is 63 steps,
# short enough for the recurrent layers to read without a front end, and no
# input noise).
# frontend_channels as checkpoints written before it was a parameter have it.
_NETWORK = dict(
    frontend=None, frontend_channels=64, learning_rate="constant", input_noise=0.0, input_shift=0
)


def _class_weights(y, *, power, unweighted):
    """Inverse class frequencies to ``power``; classes in ``unweighted`` keep N's weight."""
    labels, counts = np.unique(y, return_counts=True)
    weights = dict(zip(labels.tolist(), ((len(y) / (len(labels) * counts)) ** power).tolist()))
    for label in unweighted:
        if label in weights and "N" in weights:
            weights[label] = weights["N"]
    return weights


def _undersample(y, *, fraction, rng, classes):
    """Indices of every beat of ``classes`` but N and Q, and of ``fraction`` of the N beats.

    The N beats drawn do not depend on ``classes`` (one draw per beat).
    """
    others = [c for c in classes if c not in ("N", "Q")]
    sampled = rng.random_sample(len(y)) < fraction
    keep = np.isin(y, others) | ((y == "N") & sampled & ("N" in classes))
    return np.flatnonzero(keep)


class ArrhythmiaClassifier(ClassifierMixin, _BaseArrhythmia):
    __doc__ = record_docstring(
        """Classify heartbeats into the AAMI classes N, S, V and F.

    Each beat is read as a short sequence: the filtered signal around its R
    peak, its departure from the record's median beat, and its RR-interval
    ratios (how early it came for *this* heart) repeated at every step. An
    :class:`~sklstm.LSTMClassifier` reads the sequence. The classes are very
    unequal (nine beats in ten are N), so each fit keeps every ectopic beat
    but only ``n_fraction`` of the N beats, and weighs the classes by their
    inverse frequency to ``weight_power``.

    The model fits on beat tables, one row per beat (:meth:`load_beats` reads
    them from records with this model's settings), so that scikit-learn's
    model selection works on it as on any classifier: cross-validate it with
    :class:`~sklearn.model_selection.GroupKFold` over the records (``groups``
    of :meth:`load_beats`), never mixing a patient's beats between training
    and validation. :meth:`annotate` classifies every beat of a record file,
    at any sampling rate, from its reference annotations or detected beats.

    Parameters
    ----------
{record_parameters}
    static : {"repeat", "drop", "head"}, default="repeat"
        The RR features as channels at every step (``"repeat"``), left out
        (``"drop"``), or given to the output layer next to the pooled state
        only (``"head"``).
    hidden_size : int, default=64
        Units of the LSTM.
    pooling : {"last", "mean", "max", "attention"}, default="last"
        How the LSTM's states over a beat become one vector.
    max_iter : int, default=20
        Epochs over the training beats kept, at a constant rate (the budget
        chosen by record-grouped cross-validation). As in
        :class:`~sklstm.LSTMClassifier` with ``learning_rate="constant"``,
        the fit ends earlier if the training loss improves by less than 1e-4
        for 11 epochs in a row; no ConvergenceWarning is raised either way.
    batch_size : int, default=128
        Beats per mini-batch.
    learning_rate_init : float, default=3e-3
        Adam's learning rate.
    n_fraction : float in (0, 1], default=0.5
        Share of the N beats each fit keeps.
    weight_power : float, default=0.5
        Exponent of the inverse class frequencies that weigh the loss: 1 is
        ``"balanced"``, 0.5 its square root, 0 no weighting.
    unweighted : tuple of str, default=("F",)
        Classes kept at the weight of N. In DS1, 90% of the F beats come from
        one patient: weighing them up teaches that patient's beats, not F.
    train_classes : tuple of {"N", "S", "V", "F"}, default=("N", "S", "V", "F")
        Classes whose beats are trained on; the model never predicts others.
        Q beats never are (MIT-BIH has too few to learn from).
    n_estimators : int, default=1
        Models fitted with different seeds (each draws its own N beats),
        their probabilities averaged.
    device : str, default="cpu"
        Torch device of the networks (``"cuda"``...).
    random_state : int, RandomState instance or None, default=0
        Seed of the N beats drawn and of the networks.
    callbacks : list of skorch callbacks or None, default=None
        Given to each member's :class:`~sklstm.LSTMClassifier` during ``fit``
        (e.g. a :class:`~sklstm.checkpoint.ResumableCheckpoint`, with a single
        model only: each member would overwrite it); the fitted members keep
        none, and :func:`sklstm.save` saves the model with ``callbacks=None``.
        A resumed fit (``fit(..., resume=net)``) keeps the callbacks ``net``
        was loaded with.

    Attributes
    ----------
    classes_ : ndarray of str of shape (n_classes,)
        Classes the model predicts.
    estimators_ : list of Pipeline
        The fitted members: :class:`~sklstm.ecg.BeatSequences`,
        :class:`~sklstm.SequenceScaler` and :class:`~sklstm.LSTMClassifier`.
    n_features_in_ : int
        Columns of the beat tables seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.
    n_steps_ : int
        Steps of each beat's window.
    interrupted_ : bool
        Whether Ctrl-C ended the fit early. The members fitted until then are
        kept, the last one at its last completed epoch.

    See Also
    --------
    ArrhythmiaTagger : Each beat in the context of its record's beats.
    sklstm.ecg.load_beats : Beat tables of many records.
    sklstm.LSTMClassifier : The network of each member.

    Examples
    --------
    >>> from sklstm.ecg import ArrhythmiaClassifier
    >>> clf = ArrhythmiaClassifier(max_iter=2)
    >>> beats = clf.load_beats("data/mitdb", ["119", "209"])     # doctest: +SKIP
    >>> clf.fit(beats.X, beats.y)                                # doctest: +SKIP
    >>> result = clf.annotate("data/mitdb/220", detect=True)     # doctest: +SKIP
    >>> result.samples[:3], result.pred[:3]                      # doctest: +SKIP
    """
    )

    _parameter_constraints: dict = {
        **_RECORD_CONSTRAINTS,
        "static": [StrOptions({"repeat", "drop", "head"})],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "pooling": [StrOptions({"last", "mean", "max", "attention"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "n_fraction": [Interval(Real, 0, 1, closed="right")],
        "weight_power": [Interval(Real, 0, None, closed="left")],
        "unweighted": [tuple, list],
        "train_classes": [tuple, list],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "callbacks": [list, None],
    }

    def __init__(
        self,
        *,
        lead="MLII",
        before=0.25,
        after=0.45,
        sampling_rate=90.0,
        baseline="highpass",
        lowpass=35.0,
        local=10,
        relative=True,
        rr=RR_RATIOS,
        causal=False,
        static="repeat",
        hidden_size=64,
        pooling="last",
        max_iter=20,
        batch_size=128,
        learning_rate_init=3e-3,
        n_fraction=0.5,
        weight_power=0.5,
        unweighted=("F",),
        train_classes=("N", "S", "V", "F"),
        n_estimators=1,
        device="cpu",
        random_state=0,
        callbacks=None,
    ):
        self.lead = lead
        self.before = before
        self.after = after
        self.sampling_rate = sampling_rate
        self.baseline = baseline
        self.lowpass = lowpass
        self.local = local
        self.relative = relative
        self.rr = rr
        self.causal = causal
        self.static = static
        self.hidden_size = hidden_size
        self.pooling = pooling
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.n_fraction = n_fraction
        self.weight_power = weight_power
        self.unweighted = unweighted
        self.train_classes = train_classes
        self.n_estimators = n_estimators
        self.device = device
        self.random_state = random_state
        self.callbacks = callbacks

    # -- fitting -----------------------------------------------------------------

    def _check_settings(self):
        self._check_names(
            unweighted=(self.unweighted, AAMI_CLASSES),
            train_classes=(self.train_classes, ("N", "S", "V", "F")),
        )
        if not self.rr and self.static != "drop":
            raise ValueError('rr=() leaves no RR features: use static="drop".')

    def _member(self, random_state):
        n_static = len(self.rr)
        classifier = LSTMClassifier(
            hidden_size=self.hidden_size,
            pooling=self.pooling,
            max_iter=self.max_iter,
            batch_size=self.batch_size,
            learning_rate_init=self.learning_rate_init,
            n_static_features=n_static if self.static == "head" else 0,
            device=self.device,
            random_state=random_state,
            **_NETWORK,
        )
        return make_pipeline(
            BeatSequences(
                n_signals=2 if self.relative else 1,
                n_static=n_static,
                static="drop" if self.static == "drop" else "repeat",
            ),
            SequenceScaler(),
            classifier,
        )

    def _fit_member(self, X, y, seed, resume):
        rng = np.random.RandomState(seed)
        idx = _undersample(y, fraction=self.n_fraction, rng=rng, classes=self.train_classes)
        if not len(idx):
            raise ValueError(f"No beat of the classes {list(self.train_classes)} to train on.")
        model = self._member(seed)
        classifier = model.steps[-1][1]
        weights = _class_weights(y[idx], power=self.weight_power, unweighted=self.unweighted)
        classifier.set_params(class_weight=weights, callbacks=self.callbacks)
        if resume is not None:
            _check_same_settings(resume, classifier)
            model.steps[-1] = (model.steps[-1][0], resume)
            classifier = resume
        # The steps are fitted one by one rather than by Pipeline.fit: while it fits
        # the last step, scikit-learn (>= 1.9) hangs a callback context on it that
        # the data-only format cannot save, and a checkpoint is saved mid-fit.
        Xt, yt = X[idx], y[idx]
        for _, transformer in model.steps[:-1]:
            Xt = transformer.fit_transform(Xt, yt)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Stochastic Optimizer: Maximum", ConvergenceWarning)
            classifier.fit(Xt, yt)
        classifier.set_params(callbacks=None)
        return model

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, resume=None):
        """Fit the model (or its ``n_estimators`` members) on a beat table.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_columns)
            Beat table read with this model's settings (:meth:`load_beats`).
        y : array-like of str of shape (n_beats,)
            AAMI class of each beat (:data:`~sklstm.ecg.AAMI_CLASSES`).
        resume : LSTMClassifier, default=None
            The network of an interrupted fit, as
            :func:`~sklstm.checkpoint.load_checkpoint` returns it: training
            continues from its last completed epoch and ends as the
            uninterrupted fit would have (a single model only, fitted on the
            same beats with the same settings).

        Returns
        -------
        self : ArrhythmiaClassifier
            The fitted model.
        """
        self._check_settings()
        X, n_steps = self._check_table(X, reset=True)
        y = self._check_labels(y, len(X), self.train_classes)
        if self.n_estimators > 1 and (
            resume is not None
            or any(isinstance(c, ResumableCheckpoint) for c in self.callbacks or [])
        ):
            raise ValueError(
                "resume and checkpoints are for a single model: n_estimators must be 1."
            )
        seed = self.random_state
        if not isinstance(seed, Integral):
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        members, interrupted = [], False
        for k in range(self.n_estimators):
            member_seed = (seed + _MEMBER_SEED_STEP * k) % 2**32
            members.append(self._fit_member(X, y, member_seed, resume))
            if members[-1].steps[-1][1].interrupted_:
                interrupted = True
                break
        self.interrupted_ = interrupted
        self.estimators_ = members
        self.classes_ = np.unique(np.concatenate([m.classes_ for m in members]))
        self.n_steps_ = n_steps
        return self

    # -- predicting --------------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities of the beats, averaged over the members.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_columns)
            Beat table read with this model's settings.

        Returns
        -------
        proba : ndarray of shape (n_beats, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        X, _ = self._check_table(X, reset=False)
        proba = np.zeros((len(X), len(self.classes_)))
        for member in self.estimators_:
            cols = np.searchsorted(self.classes_, member.classes_)
            for start in range(0, len(X), _PREDICT_BATCH):
                block = slice(start, start + _PREDICT_BATCH)
                proba[block, cols] += member.predict_proba(X[block])
        return proba / len(self.estimators_)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimators_")


def _check_same_settings(resumed, fresh):
    """Refuse to resume a network trained with other settings."""
    theirs, ours = resumed.get_params(), fresh.get_params()
    # class_weight follows from the beats kept, which the checkpoint's digest of
    # the training data checks with a message that names the actual cause.
    derived = ("callbacks", "class_weight")
    differ = [k for k in ours if k not in derived and theirs.get(k) != ours[k]]
    if differ:
        shown = ", ".join(f"{k}={theirs.get(k)!r} (now {ours[k]!r})" for k in differ[:3])
        raise ValueError(
            f"the checkpoint was written with other training settings: {shown}. "
            "Resume with the settings of the interrupted fit, or start again."
        )
