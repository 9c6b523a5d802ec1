"""The arrhythmia model that reads the rhythm: each beat in the context of its neighbours.

:class:`ArrhythmiaTagger` labels the sequence of a record's beats with a
bidirectional :class:`~sklstm.LSTMTagger` (unidirectional for a causal model,
which reads only the beats before each one): each step is one beat (a coarse
copy of its window, its departure from the record's median beat, its RR
ratios), so that whether a beat is early, and whether its shape departs from
the beats around it, is read against this patient's own rhythm.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_random_state

from ..preprocessing import SequenceScaler
from ..tagger import LSTMTagger
from ._beats import RR_RATIOS
from ._classifier import ArrhythmiaClassifier, _check_same_settings, _class_weights
from ._fibrillation import fibrillation_evidence, p_segment_steps
from ._model import _RECORD_CONSTRAINTS, _BaseArrhythmia, record_docstring
from ._records import AAMI_CLASSES
from ._rr_model import check_rr_names, fit_rr_model, rr_model_features

__all__ = ["ArrhythmiaTagger"]

# Stretches labelled in one call to the network: bounds the memory of a
# 24-hour record's 100,000 beats. Predictions do not depend on it.
_PREDICT_STRETCHES = 512
# Classes trained on: Q beats (MIT-BIH has a handful) stay in the sequences as
# context, with no weight in the loss, and are never predicted.
_TRAINED = ("N", "S", "V", "F")
# The atrial fibrillation rule's thresholds (docs: the ECG application, round 7).
AF_IRREGULARITY = 0.1
AF_COHERENCE = 0.2


def _runs(index):
    """Slices of the rows whose ``beat_index`` follows on from the row before."""
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    bounds = np.concatenate([[0], breaks, [len(index)]])
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _stretches(runs, n_beats):
    """Row indices of overlapping stretches of ``n_beats`` beats covering every run.

    Consecutive stretches overlap by half: every beat away from a run's ends
    is read by two stretches, once away from each one's edge.
    """
    stride = max(n_beats // 2, 1)
    out = []
    for run in runs:
        length = run.stop - run.start
        starts = list(range(0, max(length - n_beats, 0) + 1, stride))
        if starts[-1] + n_beats < length:
            starts.append(length - n_beats)
        out.extend(np.arange(run.start + s, run.start + min(s + n_beats, length)) for s in starts)
    return out


def _causal_stretches(runs, n_beats):
    """Row indices, for every beat of the runs, of the stretch of ``n_beats`` ending at it."""
    return [
        np.arange(max(run.start, stop - n_beats), stop)
        for run in runs
        for stop in range(run.start + 1, run.stop + 1)
    ]


def _edge_weights(length):
    """Weights of a stretch's beats: the further from its edges, the more context."""
    k = np.arange(length)
    return np.minimum(k + 1, length - k).astype(np.float64)


def _s_share(proba, n, s):
    """S / (N + S) of each row of ``proba`` (1/2 where both are 0)."""
    total = proba[:, n] + proba[:, s]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, proba[:, s] / total, 0.5)


class ArrhythmiaTagger(ClassifierMixin, _BaseArrhythmia):
    __doc__ = record_docstring(
        """Classify heartbeats in the context of their neighbours.

    Whether a beat is supraventricular shows mostly in the rhythm: how early
    it comes against this patient's recent beats, whether a pause follows,
    whether its neighbours look the same. :class:`ArrhythmiaClassifier` reads
    one beat at a time; this model reads the *sequence* of a record's beats
    with a bidirectional :class:`~sklstm.LSTMTagger` and labels every beat of
    a stretch at once. Each step is one beat: its window every
    ``window_step``-th step, its departure from the record's median beat
    (with ``relative``), and its RR ratios. It trains on overlapping
    stretches of ``n_beats`` beats, every beat kept (the neighbours are the
    context), with class weights in place of undersampling; it predicts over
    overlapping stretches too, averaging each beat's probabilities with more
    weight where a stretch gives it more context. With ``causal=True`` every
    part reads only the past: the LSTM is unidirectional and reads each beat
    at the end of the stretch that ends at it (about 16 times the network's
    work of the default at prediction: a stretch per beat rather than per 32
    beats, in one direction rather than two), the normalization and the rhythm's
    context come from the beats before, and a live monitor decides each beat
    within a second with the class :meth:`annotate` gives. With ``beat_model``, an
    :class:`ArrhythmiaClassifier` that reads each beat's full window is
    fitted alongside; with ``rr_model``, a linear model of the RR features
    alone. The models' probabilities are averaged, each with the same weight:
    in record-grouped cross-validation on DS1 the three together had a higher
    macro F1 than the networks alone or paired, or the tagger with the RR
    model. Then, with ``rr_s_weight``, the RR model has the larger say in
    whether a beat is S or N: that shows mostly in the rhythm, which carries
    from one patient to the next better than beat shapes do (see the ECG
    application's documentation). Last, with ``af_irregularity``, beats in
    atrial fibrillation (an irregular rhythm without P waves) are never S.

    Beat tables are those of :meth:`load_beats` and :meth:`read_beats`: the
    columns of :class:`ArrhythmiaClassifier`'s, plus a last column
    ``beat_index``, the position of the beat in its record. Rows that follow
    one another in a record (``beat_index`` one more than the row before)
    are read as one sequence; any other row starts a new one. So keep the
    rows of a record together and in order: splitters that keep records
    whole (:class:`~sklearn.model_selection.GroupKFold` over ``groups``) do.

    Parameters
    ----------
{record_parameters}
    window_step : int, default=3
        Every how many steps of a beat's window are features of its step:
        3 keeps 21 of the 63 steps of the default window (30 Hz).
    n_beats : int, default=64
        Beats per stretch, in training and prediction. A causal model
        (``causal=True``: a unidirectional LSTM) reads each beat at the end
        of the stretch of ``n_beats`` beats that ends at it.
    hidden_size : int, default=64
        Units of each direction of each LSTM layer.
    num_layers : int, default=2
        Stacked LSTM layers (bidirectional, unless ``causal``).
    max_iter : int or "auto", default="auto"
        Epochs over the training stretches; ``"auto"`` plans about 1,500
        optimizer updates, as :class:`~sklstm.LSTMTagger` does.
    learning_rate_init : float, default=1e-3
        Peak learning rate of the one-cycle schedule.
    weight_power : float, default=1.0
        Exponent of the inverse class frequencies that weigh the loss: 1 is
        ``"balanced"``, 0.5 its square root, 0 no weighting.
    unweighted : tuple of str, default=("F",)
        Classes kept at the weight of N. In DS1, 90% of the F beats come from
        one patient: weighing them up teaches that patient's beats, not F.
    device : str, default="cpu"
        Torch device of the network (``"cuda"``...).
    random_state : int, RandomState instance or None, default=0
        Seed of the network's initialization and of its mini-batches.
    beat_model : ArrhythmiaClassifier or None, default=None
        A model of single beats fitted on the same beats, its probabilities
        averaged with the tagger's. It is cloned, and the clone reads the
        beats with this model's settings (``lead``, ``before``, ``after``,
        ``sampling_rate``, ``baseline``, ``lowpass``, ``local``,
        ``relative``, ``rr``) and draws from this model's ``random_state``,
        whatever its own. None: no beat model.
    rr_model : {"logistic"} or None, default="logistic"
        A model of the RR features alone, fitted on the same beats, its
        probabilities averaged with the networks': ``"logistic"`` is a
        multinomial logistic regression on the standardized RR features of
        the table and the rhythm's irregularity (computed from the
        ``pre_record`` and ``pre_local`` ratios within each run of beats,
        unless ``rr`` has ``"irregularity"``), its classes weighed as the
        tagger's. It cannot learn a patient's beat shapes, and so carries
        what an early beat and its pause say from one patient to the next.
        None: no RR model.
    rr_context : int or None, default=32
        Beats on either side of each beat whose rhythm the RR model reads the
        beat against (fewer at the ends of a run of beats), with five more
        features: the previous and next RR against the mean previous RR of
        those beats (``rr_reference``; on a log scale, and in units of their
        median absolute deviation from it) and the median absolute change between their successive
        RR over it (high all along in atrial fibrillation, where earliness
        means little). The reference follows the heart rate as the record's
        mean RR cannot; see ``rr_reference``. Reads the RR features
        ``pre_record`` and ``post_record``, which ``rr`` must then hold.
        A causal model reads the ``2 * rr_context`` beats before each beat
        instead, and the previous RR alone (three features, from
        ``pre_record``). None: the RR model reads the table's RR features
        and the irregularity only (as models saved before this parameter
        did).
    rr_reference : {"mean", "median"}, default="mean"
        The RR context's reference: the mean or the median previous RR of the
        beats around each beat. The mean keeps the pauses after premature
        beats, so it stays the heart's own rate even for a patient whose
        premature beats are most of the beats; a median is then their RR,
        and they read as on time (in a rhythm of a pause and three early
        beats, the RR model found 77% of the early beats with the median, 93%
        with the mean; on DS1's record-grouped folds the two scored alike,
        see the ECG application's documentation). ``"median"`` is the
        reference of models saved before this parameter existed.
    rr_s_weight : float in [0, 1] or None, default=2/3
        The RR model's share in splitting a beat's averaged N + S
        probability between N and S: the split is ``rr_s_weight`` times the
        RR model's S / (N + S) plus the rest times the networks' (the other
        classes keep the average). Above 1/2, a beat the RR model is sure
        of is S rather than N whatever its shape (V can still win). None:
        the plain average (as models saved before this parameter did). Read
        at prediction: changing it takes no refit.
    af_irregularity : float or None, default=0.1
        Beats where the rhythm is more irregular than this and the P waves
        incoherent (below ``af_coherence``) are read as atrial fibrillation,
        and their averaged N + S probability goes to N: the beats of atrial
        fibrillation come early at random, which the RR model reads as S,
        but they are not atrial premature beats (the AAMI classes call them
        N). So N can also outweigh a V or F that had outweighed N and S
        apart (on DS1, V sensitivity fell by 0.2 point). The irregularity
        is the smallest median absolute change of the previous RR between
        beats 1, 2 or 3 apart over the median previous RR, within 16 beats
        on either side (a causal model: the 32 before; so that bigeminy and
        trigeminy read as regular); see
        :func:`~sklstm.ecg.fibrillation_evidence`. In record-grouped
        cross-validation on DS1 the rule took S +P from 39 to 67% for 3
        points of S sensitivity (thresholds chosen on those folds, which
        hold two records of atrial fibrillation). Reads the RR feature
        ``pre_record`` and windows from at least 0.15 s before the R peak:
        ``fit`` refuses others unless ``af_irregularity=None``. None: no
        rule (as models saved before this parameter had). Read at
        prediction, like ``rr_s_weight``.
    af_coherence : float in [0, 1], default=0.2
        The P-wave coherence below which the rule finds P waves absent: the
        energy of the mean of the signals before the QRS of the beats at most
        16 away over their mean energy (near 1 for a steady P wave, near 0.03
        for noise). Read at prediction.
    callbacks : list of skorch callbacks or None, default=None
        Given to the :class:`~sklstm.LSTMTagger` during ``fit`` (e.g. a
        :class:`~sklstm.checkpoint.ResumableCheckpoint`); the fitted model
        keeps none. A resumed fit (``fit(..., resume=net)``) keeps the
        callbacks ``net`` was loaded with. ``beat_model``'s own callbacks
        (the same objects, not copies) serve its fit.

    Attributes
    ----------
    classes_ : ndarray of str of shape (n_classes,)
        Classes the model predicts (those of N, S, V and F in the training
        beats).
    estimator_ : Pipeline
        The fitted :class:`~sklstm.SequenceScaler` and
        :class:`~sklstm.LSTMTagger`, which read stretches of beats.
    beat_model_ : ArrhythmiaClassifier or None
        The fitted clone of ``beat_model``; None without one, or when Ctrl-C
        came before its first epoch (during the tagger's fit, or while it
        prepared its beats).
    rr_model_ : Pipeline or None
        The fitted :class:`~sklearn.preprocessing.StandardScaler` and
        :class:`~sklearn.linear_model.LogisticRegression` of ``rr_model``
        (fitted before the networks, so Ctrl-C keeps it); None without one.
    n_features_in_ : int
        Columns of the beat tables seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.
    n_steps_ : int
        Steps of each beat's window.
    interrupted_ : bool
        Whether Ctrl-C ended the fit early: the network whose fit it ended is
        kept at its last completed epoch.

    See Also
    --------
    ArrhythmiaClassifier : One beat at a time.
    sklstm.LSTMTagger : The network, one label per step.

    Examples
    --------
    >>> from sklstm.ecg import ArrhythmiaTagger
    >>> tagger = ArrhythmiaTagger(max_iter=2)
    >>> beats = tagger.load_beats("data/mitdb", ["119", "209"])  # doctest: +SKIP
    >>> tagger.fit(beats.X, beats.y)                             # doctest: +SKIP
    >>> result = tagger.annotate("data/mitdb/220", detect=True)  # doctest: +SKIP
    >>> result.samples[:3], result.pred[:3]                      # doctest: +SKIP
    """
    )

    _parameter_constraints: dict = {
        **_RECORD_CONSTRAINTS,
        "window_step": [Interval(Integral, 1, None, closed="left")],
        "n_beats": [Interval(Integral, 2, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "weight_power": [Interval(Real, 0, None, closed="left")],
        "unweighted": [tuple, list],
        "device": [str],
        "random_state": ["random_state"],
        "beat_model": [HasMethods(["fit", "predict_proba"]), None],
        "rr_model": [StrOptions({"logistic"}), None],
        "rr_context": [Interval(Integral, 1, None, closed="left"), None],
        "rr_reference": [StrOptions({"mean", "median"})],
        "rr_s_weight": [Interval(Real, 0, 1, closed="both"), None],
        "af_irregularity": [Interval(Real, 0, None, closed="left"), None],
        "af_coherence": [Interval(Real, 0, 1, closed="both")],
        "callbacks": [list, None],
    }

    #: What the parameters added since the tagger's first release meant before:
    #: models saved then have no RR model, later ones no context and a plain average,
    #: none of them the atrial fibrillation rule, and those with a context read it
    #: against its median.
    _PARAMS_BEFORE_0_2 = {
        "rr_model": None,
        "rr_context": None,
        "rr_reference": "median",
        "rr_s_weight": None,
        "af_irregularity": None,
        "af_coherence": AF_COHERENCE,
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
        window_step=3,
        n_beats=64,
        hidden_size=64,
        num_layers=2,
        max_iter="auto",
        learning_rate_init=1e-3,
        weight_power=1.0,
        unweighted=("F",),
        device="cpu",
        random_state=0,
        beat_model=None,
        rr_model="logistic",
        rr_context=32,
        rr_reference="mean",
        rr_s_weight=2 / 3,
        af_irregularity=AF_IRREGULARITY,
        af_coherence=AF_COHERENCE,
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
        self.window_step = window_step
        self.n_beats = n_beats
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.max_iter = max_iter
        self.learning_rate_init = learning_rate_init
        self.weight_power = weight_power
        self.unweighted = unweighted
        self.device = device
        self.random_state = random_state
        self.beat_model = beat_model
        self.rr_model = rr_model
        self.rr_context = rr_context
        self.rr_reference = rr_reference
        self.rr_s_weight = rr_s_weight
        self.af_irregularity = af_irregularity
        self.af_coherence = af_coherence
        self.callbacks = callbacks

    def __setstate__(self, state):
        for name, value in self._PARAMS_BEFORE_0_2.items():
            state.setdefault(name, value)
        super().__setstate__(state)

    # -- the beat table: ArrhythmiaClassifier's, plus each beat's place in its record --

    def _table(self, beats):
        if "X" not in beats:  # load_beats found no good record
            return beats
        groups = beats.groups
        starts = np.concatenate([[0], np.flatnonzero(groups[1:] != groups[:-1]) + 1])
        lengths = np.diff(np.concatenate([starts, [len(groups)]]))
        index = np.arange(len(groups)) - np.repeat(starts, lengths)
        beats.X = np.hstack([beats.X, index[:, None].astype(beats.X.dtype)])
        beats.feature_names = [*beats.feature_names, "beat_index"]
        return beats

    def _n_columns(self):
        n_steps, n_columns = super()._n_columns()
        return n_steps, n_columns + 1

    def _beat_features(self, X, layout=None):
        """One row of step features per beat: the coarse window(s) and the RR features.

        The layout is the fitted one (``set_params`` after ``fit`` changes nothing),
        unless ``fit`` gives the one it fits.
        """
        n_steps, n_signals, step = self._layout_ if layout is None else layout
        parts = [X[:, k * n_steps : (k + 1) * n_steps : step] for k in range(n_signals)]
        parts.append(X[:, n_signals * n_steps : -1])
        return np.hstack(parts).astype(np.float32)

    def _rr_features(self, X, runs, layout=None):
        """The RR model's inputs: the table's RR columns, the rhythm's irregularity, its context.

        The layout is the fitted one, like :meth:`_beat_features`'.
        """
        # Files saved before rr_context existed have no context, and before
        # rr_reference read the context against its median.
        layout = self._rr_layout_ if layout is None else layout
        names, local = layout[:2]
        context = layout[2] if len(layout) > 2 else None
        reference = layout[3] if len(layout) > 3 else "median"
        causal = layout[4] if len(layout) > 4 else False
        columns = X[:, -1 - len(names) : -1]
        return rr_model_features(
            columns, names, runs, local=local, context=context, reference=reference, causal=causal
        )

    # -- fitting -------------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, resume=None, resume_beat_model=None):
        """Fit the models: the RR model, the tagger on stretches of the records, the beat model.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_columns)
            Beat table read with this model's settings (:meth:`load_beats`),
            the rows of each record together and in order.
        y : array-like of str of shape (n_beats,)
            AAMI class of each beat (:data:`~sklstm.ecg.AAMI_CLASSES`).
        resume : LSTMTagger, default=None
            The network of an interrupted fit, as
            :func:`~sklstm.checkpoint.load_checkpoint` returns it: training
            continues from its last completed epoch and ends as the
            uninterrupted fit would have (the same beats and settings). A
            checkpoint of a completed fit gives the completed network back.
        resume_beat_model : LSTMClassifier, default=None
            The interrupted network of ``beat_model``'s fit (which follows the
            tagger's), from its own checkpoint: its fit continues from there
            (see :meth:`ArrhythmiaClassifier.fit`). Resuming a pair whose
            beat model was interrupted takes both: the tagger's completed
            checkpoint as ``resume``, the beat model's as this.

        Returns
        -------
        self : ArrhythmiaTagger
            The fitted model.
        """
        self._check_names(unweighted=(self.unweighted, AAMI_CLASSES))
        if self.rr_model is not None:
            check_rr_names(self.rr, context=self.rr_context, causal=self.causal)
        # Refused before training, not at the first prediction; the segment of the
        # windows of this fit, whatever set_params does to before later.
        p_steps = p_segment_steps(before=self.before, sampling_rate=self.sampling_rate)
        self._af_segment(self.rr, p_steps)
        if resume_beat_model is not None and self.beat_model is None:
            raise ValueError("resume_beat_model needs a beat_model to resume.")
        X, n_steps = self._check_table(X, reset=True)
        y = self._check_labels(y, len(X), _TRAINED)
        seed = self.random_state
        if not isinstance(seed, Integral):
            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        beat = self._beat_model(seed, y)  # refused before the tagger trains, not after
        trained = np.isin(y, _TRAINED)
        weights = _class_weights(y[trained], power=self.weight_power, unweighted=self.unweighted)
        weights.update({c: 0.0 for c in AAMI_CLASSES if c not in weights})
        # Set as fitted attributes at the end, with the models they describe: a
        # refit that fails leaves the fitted model as it was.
        layout = (n_steps, 2 if self.relative else 1, self.window_step)
        rr_layout = (tuple(self.rr), self.local, self.rr_context, self.rr_reference, self.causal)
        features = self._beat_features(X, layout)
        runs = _runs(X[:, -1])
        rr_model = None
        if self.rr_model is not None:
            # Fitted first: it takes a second, and Ctrl-C in the networks keeps it.
            rr_model = fit_rr_model(
                self._rr_features(X, runs, rr_layout)[trained],
                y[trained],
                sample_weight=np.array([weights[c] for c in y[trained]]),
            )
        if len(X) / len(runs) < self.n_beats / 4:
            warnings.warn(
                f"The rows of X form {len(runs)} runs of consecutive beats, "
                f"{len(X) / len(runs):.1f} beats long on average, against stretches of "
                f"n_beats={self.n_beats}: the tagger reads each beat with little context. "
                "Keep the rows of each record together and in order (split by record, "
                "e.g. GroupKFold over load_beats' groups, never shuffled).",
                UserWarning,
                stacklevel=2,
            )
        stretches = _stretches(runs, self.n_beats)
        tagger = LSTMTagger(
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bidirectional=not self.causal,
            max_iter=self.max_iter,
            learning_rate_init=self.learning_rate_init,
            class_weight=weights,
            device=self.device,
            random_state=seed,
            callbacks=self.callbacks,
        )
        if resume is not None:
            _check_same_settings(resume, tagger)
            tagger = resume
        model = make_pipeline(SequenceScaler(), tagger)
        # Step by step rather than Pipeline.fit, for the reason ArrhythmiaClassifier
        # gives: a checkpoint is saved while the last step fits.
        sequences = model[0].fit_transform([features[s] for s in stretches])
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Stochastic Optimizer: Maximum", ConvergenceWarning)
            tagger.fit(sequences, [y[s] for s in stretches])
        tagger.set_params(callbacks=None)
        interrupted = bool(tagger.interrupted_)
        if beat is not None and not interrupted:
            try:
                beat.fit(X[:, :-1], y, resume=resume_beat_model)
            except KeyboardInterrupt:
                # Ctrl-C outside the beat model's epochs (while it prepares its
                # beats): keep the trained tagger, as Ctrl-C in an epoch would.
                warnings.warn(
                    "Training was interrupted before the beat model's first epoch; "
                    "the tagger (and its RR model, if any) is kept.",
                    UserWarning,
                    stacklevel=2,
                )
                beat, interrupted = None, True
            else:
                interrupted = bool(beat.interrupted_)
        elif interrupted:
            beat = None
        classes = [c for c in tagger.classes_ if c in _TRAINED]
        for model_ in (beat, rr_model):
            if model_ is not None:
                classes = np.union1d(classes, model_.classes_)
        self.classes_ = np.asarray(classes)
        self.beat_model_ = beat
        self.rr_model_ = rr_model
        self.n_steps_ = n_steps
        self._layout_, self._rr_layout_, self._n_beats_ = layout, rr_layout, self.n_beats
        self._p_steps_ = p_steps
        self.interrupted_ = interrupted
        self.estimator_ = model  # last: the model is fitted once it is set
        return self

    def _beat_model(self, seed, y):
        """The unfitted clone of ``beat_model`` this fit trains, checked; None without one."""
        if self.beat_model is None:
            return None
        if not isinstance(self.beat_model, ArrhythmiaClassifier):
            raise TypeError(
                "beat_model must be an ArrhythmiaClassifier or None, got "
                f"{type(self.beat_model).__name__}."
            )
        beat = clone(self.beat_model).set_params(
            lead=self.lead, random_state=seed, **self.extract_params()
        )
        # The given callbacks themselves, not the clone's copies: a callback
        # that keeps state (a checkpoint, a Ctrl-C handler) sees the fit.
        beat.set_params(callbacks=self.beat_model.callbacks)
        beat._validate_params()
        beat._check_settings()
        beat._check_labels(y, len(y), beat.train_classes)
        return beat

    # -- predicting ----------------------------------------------------------------

    def predict_proba(self, X):
        """Class probabilities of the beats, each read in the context of its neighbours.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_columns)
            Beat table read with this model's settings, the rows of each
            record together and in order.

        Returns
        -------
        proba : ndarray of shape (n_beats, n_classes)
            Columns in the order of ``classes_``.
        """
        return self._predict_proba_rows(X, 0)

    def _predict_proba_rows(self, X, start):
        """``predict_proba(X)[start:]``; a causal model computes only those rows.

        The monitor's decisions report the last few beats of a window of
        hundreds: the earlier rows are only their context.
        """
        check_is_fitted(self)
        # Read here, not fitted: checked before any work.
        weight = self.rr_s_weight
        if weight is not None and not (isinstance(weight, Real) and 0 <= weight <= 1):
            raise ValueError(f"rr_s_weight must be None or within [0, 1], got {weight!r}.")
        # Models fitted before _rr_layout_ existed read the table's RR columns of rr.
        p_steps = self._af_segment(
            getattr(self, "_rr_layout_", (self.rr,))[0],
            # Models fitted before the rule existed: their windows are those of the settings.
            getattr(
                self,
                "_p_steps_",
                p_segment_steps(before=self.before, sampling_rate=self.sampling_rate),
            ),
        )
        X, _ = self._check_table(X, reset=False)
        start = min(start, len(X))
        proba = np.zeros((len(X) - start, len(self.classes_)))
        ours = np.isin(self.estimator_.classes_, _TRAINED)
        proba[:, np.searchsorted(self.classes_, self.estimator_.classes_[ours])] = (
            self._tagger_proba(X, ours, start)
        )
        members = 1
        if self.beat_model_ is not None and len(proba):
            cols = np.searchsorted(self.classes_, self.beat_model_.classes_)
            proba[:, cols] += self.beat_model_.predict_proba(X[start:, :-1])
            members += 1
        networks = proba / members
        rr_model = getattr(self, "rr_model_", None)  # None in files saved before it existed
        if rr_model is None or not len(proba):
            return self._fibrillation_rule(X, networks, p_steps, start)
        rr_proba = np.zeros_like(proba)
        cols = np.searchsorted(self.classes_, rr_model.classes_)
        # The rhythm's context is computed over every row: it is cheap.
        rr_features = self._rr_features(X, _runs(X[:, -1]))[start:]
        rr_proba[:, cols] = rr_model.predict_proba(rr_features)
        proba = (proba + rr_proba) / (members + 1)
        if weight is not None and np.isin(["N", "S"], self.classes_).all():
            n, s = np.searchsorted(self.classes_, ["N", "S"])
            share = weight * _s_share(rr_proba, n, s) + (1 - weight) * _s_share(networks, n, s)
            total = proba[:, n] + proba[:, s]
            proba[:, n], proba[:, s] = total * (1 - share), total * share
        return self._fibrillation_rule(X, proba, p_steps, start)

    def _af_segment(self, rr_names, p_steps):
        """``p_steps`` once the rule can read the table (None without the rule)."""
        threshold, coherence = self.af_irregularity, self.af_coherence
        if threshold is None:
            return None
        if not (isinstance(threshold, Real) and threshold >= 0):
            raise ValueError(f"af_irregularity must be None or >= 0, got {threshold!r}.")
        if not (isinstance(coherence, Real) and 0 <= coherence <= 1):
            raise ValueError(f"af_coherence must be within [0, 1], got {coherence!r}.")
        if "pre_record" not in rr_names:
            raise ValueError(
                "af_irregularity reads the RR feature 'pre_record', which rr lacks "
                f"({list(rr_names)}): add it, or set af_irregularity=None."
            )
        if p_steps < 2:
            raise ValueError(
                f"af_irregularity reads the P waves, but windows from before={self.before:g} "
                "s hold too little of them: the rule needs before >= 0.15 s, or "
                "af_irregularity=None."
            )
        return p_steps

    def _fibrillation_rule(self, X, proba, p_steps, start=0):
        """Give the N + S probability of beats in atrial fibrillation to N.

        ``proba`` holds the rows of ``X`` from ``start`` on.
        """
        if p_steps is None or not np.isin(["N", "S"], self.classes_).all():
            return proba
        names = getattr(self, "_rr_layout_", (self.rr,))[0]
        pre_record = X[:, -1 - len(names) + list(names).index("pre_record")]
        irregularity, coherence = fibrillation_evidence(
            pre_record,
            X[:, : self.n_steps_],
            _runs(X[:, -1]),
            p_steps=p_steps,
            causal=self._fitted_causal(),
        )
        fibrillation = (irregularity > self.af_irregularity) & (coherence < self.af_coherence)
        fibrillation = fibrillation[start:]
        n, s = np.searchsorted(self.classes_, ["N", "S"])
        proba[fibrillation, n] += proba[fibrillation, s]
        proba[fibrillation, s] = 0.0
        return proba

    def _fitted_causal(self):
        """Whether the fitted model is causal (the ``causal`` it was fitted with)."""
        layout = getattr(self, "_rr_layout_", ())
        return bool(layout[4]) if len(layout) > 4 else False

    def _tagger_proba(self, X, columns, start=0):
        """The tagger's probabilities of its ``columns``, over overlapping stretches.

        A causal model reads each beat at the end of the stretch of ``n_beats``
        beats that ends at it: its class never depends on a later beat, and only
        the stretches of the rows from ``start`` on are read. The rows from
        ``start`` on are returned.
        """
        features = self._beat_features(X)
        # Files saved before _n_beats_ existed predict with the parameter.
        n_beats = getattr(self, "_n_beats_", self.n_beats)
        runs = _runs(X[:, -1])
        causal = self._fitted_causal()
        if causal:
            stretches = [s for s in _causal_stretches(runs, n_beats) if s[-1] >= start]
        else:
            stretches = _stretches(runs, n_beats)
        total = np.zeros((len(X), int(np.sum(columns))))
        for first in range(0, len(stretches), _PREDICT_STRETCHES):
            batch = stretches[first : first + _PREDICT_STRETCHES]
            for rows, proba in zip(
                batch, self.estimator_.predict_proba([features[s] for s in batch])
            ):
                if causal:
                    total[rows[-1]] = proba[-1, columns]
                else:
                    total[rows] += proba[:, columns] * _edge_weights(len(rows))[:, None]
        total = total[start:]
        return total / total.sum(axis=1, keepdims=True)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "estimator_")
