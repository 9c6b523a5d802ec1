"""What the arrhythmia models share: their beat settings, reading records, annotating them.

:class:`~sklstm.ecg.ArrhythmiaClassifier` (one beat at a time) and
:class:`~sklstm.ecg.ArrhythmiaTagger` (the sequence of a record's beats) fit on
beat tables that their own ``load_beats`` and ``read_beats`` read with their
settings, and classify the beats of record files with ``annotate``.
"""

from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._beats import RR_FEATURES, _check_rr_names, _window_offsets
from ._collection import load_beats, read_beats
from ._monitor import ArrhythmiaMonitor
from ._records import AAMI_CLASSES, RecordError

#: Constraints of the beat settings, which every arrhythmia model has.
_RECORD_CONSTRAINTS = {
    "lead": [str, Interval(Integral, 0, None, closed="left")],
    "before": [Interval(Real, 0, None, closed="left")],
    "after": [Interval(Real, 0, None, closed="left")],
    "sampling_rate": [Interval(Real, 0, None, closed="neither")],
    "baseline": [StrOptions({"median", "highpass"}), None],
    "lowpass": [Interval(Real, 0, None, closed="neither"), None],
    "local": [Interval(Integral, 1, None, closed="left")],
    "relative": ["boolean"],
    "rr": [tuple, list],
    "causal": ["boolean"],
}


# The beat settings' part of the models' docstrings.
_RECORD_PARAMETERS = """    lead : str or int, default="MLII"
        Lead the beats are read from, by name or 0-based index (see
        :func:`~sklstm.ecg.read_record`).
    before : float, default=0.25
        Seconds of signal before the R peak in each beat's window.
    after : float, default=0.45
        Seconds of signal after the R peak.
    sampling_rate : float, default=90.0
        Rate in Hz of the window's steps, whatever the record's own rate.
    baseline : {"highpass", "median"} or None, default="highpass"
        Baseline removal (see :func:`~sklstm.ecg.filter_ecg`).
    lowpass : float or None, default=35.0
        Low-pass cut-off in Hz (see :func:`~sklstm.ecg.filter_ecg`).
    local : int, default=10
        Previous RR intervals whose mean is the local RR
        (see :func:`~sklstm.ecg.rr_features`).
    relative : bool, default=True
        Also read each window minus the record's median window.
    rr : tuple of str, default=RR_RATIOS
        RR features of each beat, among :data:`~sklstm.ecg.RR_FEATURES`.
    causal : bool, default=False
        Read each beat from the signal up to ``after`` seconds past its R
        peak alone, so that a live monitor decides it as soon as that has
        arrived, with the class the offline ``annotate`` gives: the beat
        tables are causal (see :func:`~sklstm.ecg.extract_beats`; ``rr``
        must then leave out the next beat's features, e.g.
        :data:`~sklstm.ecg.PAST_RR_RATIOS`), and the models read only the
        beats before each one. Costs S sensitivity: without the pause after a
        premature beat, record-grouped cross-validation on DS1 found 65.5%
        of the S beats, against 79.9% (see the ECG application's
        documentation). The 35 Hz low-pass stays zero-phase and reads ahead
        with a decaying tail: the monitor waits 50 ms past the window, where
        a row still moves by up to about 2e-3 of its scale (no class changed
        in the measurements)."""


def record_docstring(template):
    """A model's docstring, its ``{record_parameters}`` filled with the beat settings."""
    return template.replace("{record_parameters}", _RECORD_PARAMETERS)


class _BaseArrhythmia(BaseEstimator):
    """Beat settings, records in, beat tables out; subclasses fit and predict."""

    _parameter_constraints: dict = dict(_RECORD_CONSTRAINTS)

    def __setstate__(self, state):
        state.setdefault("causal", False)  # models saved before it existed
        super().__setstate__(state)

    def _table(self, beats):
        """The beat table this model reads, from what ``read_beats`` returns."""
        return beats

    # -- records -----------------------------------------------------------------

    def extract_params(self):
        """The beat extraction settings, as :func:`~sklstm.ecg.read_beats` takes them.

        Returns
        -------
        params : dict
            ``before``, ``after``, ``sampling_rate``, ``baseline``,
            ``lowpass``, ``local``, ``relative``, ``rr`` and ``causal``.
        """
        return dict(
            before=self.before,
            after=self.after,
            sampling_rate=self.sampling_rate,
            baseline=self.baseline,
            lowpass=self.lowpass,
            local=self.local,
            relative=self.relative,
            rr=tuple(self.rr),
            causal=self.causal,
        )

    def load_beats(
        self, data_dir, records=None, *, r_peaks="reference", exclude_paced=True, n_jobs=2,
        errors="raise",
    ):  # fmt: skip
        """Beat tables of records, read with this model's lead and settings.

        Parameters
        ----------
        data_dir : str or path-like
            Folder of the WFDB records.
        records : list of str, default=None
            Record names; every record of the folder when None.
        r_peaks : {"reference", "detect"}, default="reference"
            Beats at the reference annotations, or detected.
        exclude_paced : bool, default=True
            Leave out the paced records, as the AAMI evaluation does.
        n_jobs : int, default=2
            Records read at once.
        errors : {"raise", "collect"}, default="raise"
            Raise at the first bad record, or list the bad ones in ``failures``.

        Returns
        -------
        beats : :class:`~sklearn.utils.Bunch`
            As :func:`~sklstm.ecg.load_beats`: ``X`` (what :meth:`fit` and
            :meth:`predict` take), ``y``, ``groups`` (the record of each beat),
            ``samples``, ``records``, ``failures``...
        """
        return self._table(load_beats(
            data_dir, records, lead=self.lead, r_peaks=r_peaks, exclude_paced=exclude_paced,
            n_jobs=n_jobs, errors=errors, **self.extract_params(),
        ))  # fmt: skip

    def read_beats(self, path, *, r_peaks="reference", annotator="atr", chunk_seconds=3600.0):
        """The beat table of one record file, read with this model's lead and settings.

        Parameters
        ----------
        path : str or path-like
            Record path without extension (``DIR/101`` for ``DIR/101.hea``).
        r_peaks : {"reference", "detect"}, default="reference"
            Beats at the reference annotations, or detected.
        annotator : str or None, default="atr"
            Extension of the reference annotations; None reads none (then
            ``r_peaks`` must be ``"detect"``).
        chunk_seconds : float or None, default=3600.0
            Longer records are read a stretch at a time (bounded memory).

        Returns
        -------
        beats : :class:`~sklearn.utils.Bunch`
            As :func:`~sklstm.ecg.read_beats`.
        """
        return self._table(read_beats(
            path, lead=self.lead, annotator=annotator, r_peaks=r_peaks,
            chunk_seconds=chunk_seconds, **self.extract_params(),
        ))  # fmt: skip

    def annotate(self, path, *, detect=False, annotator="atr", chunk_seconds=3600.0):
        """Classify every beat of a record file.

        Parameters
        ----------
        path : str or path-like
            Record path without extension. Any sampling rate: the beats'
            windows are read at this model's ``sampling_rate``.
        detect : bool, default=False
            Detect the beats (:func:`~sklstm.ecg.detect_r_peaks`) instead of
            taking them from the reference annotations.
        annotator : str or None, default="atr"
            Extension of the reference annotations. With ``detect``, the
            detected beats get the class of the reference beat they match
            (``""`` for none) in ``y``; without the file (or with None), every
            ``y`` is ``""``.
        chunk_seconds : float or None, default=3600.0
            Longer records are read a stretch at a time (bounded memory).

        Returns
        -------
        beats : :class:`~sklearn.utils.Bunch`
            What :meth:`read_beats` returns, plus ``pred``: ndarray of str of
            shape (n_beats,), the predicted class of each beat (at
            ``samples``).

        Raises
        ------
        RecordError
            When the record cannot be read; without ``detect``, when its
            reference annotations are missing or unreadable.
        """
        check_is_fitted(self)
        r_peaks = "detect" if detect else "reference"
        if detect and annotator is not None and not Path(f"{path}.{annotator}").is_file():
            annotator = None  # a record of another database: nothing to match the beats to
        try:
            beats = self.read_beats(
                path, r_peaks=r_peaks, annotator=annotator, chunk_seconds=chunk_seconds
            )
        except RecordError as exc:
            if detect or not str(exc).startswith(f"{path}.{annotator}:"):
                raise
            raise RecordError(f"{exc} Without annotations, use detect=True.") from None
        beats.pred = self.predict(beats.X)
        return beats

    def monitor(self, *, fs, lookahead=None, history=None, interval=None):
        """A monitor that detects and classifies the beats of a lead as its samples arrive.

        Feed it the samples with ``monitor.update(chunk)``; each call returns
        the beats decided meanwhile, each between ``lookahead`` and
        ``lookahead + interval`` seconds after its R peak, read as
        :meth:`annotate` reads a record, over the last ``history`` seconds (see
        :class:`~sklstm.ecg.ArrhythmiaMonitor`). The defaults depend on
        ``causal``: a causal model's classes are final once ``after`` seconds
        past the R peak have arrived, so it decides each beat within a second;
        any other model reads the whole record, so it waits 20 s for classes
        closer to those of the whole record.

        Parameters
        ----------
        fs : float
            Sampling frequency of the signal in Hz (above 30).
        lookahead : float, default=None
            Seconds of signal after a beat before it is decided (at least
            0.5, and ``after + 0.05``). None: that least for a causal model
            (0.5 with the default ``after``), 20 otherwise.
        history : float, default=None
            Seconds of signal each decision reads (at least ``lookahead +
            interval + 30``). None: 300 for a causal model, 1,800 otherwise.
            A causal model's beat reads up to 190 beats back (the tagger's
            64, each normalized by the 127 up to it): 300 s hold them while
            the heart beats more than about 42 times a minute; give more for
            slower hearts, or classes may differ from ``annotate``'s.
        interval : float, default=None
            Seconds of signal between decisions (at most ``lookahead``).
            None: 0.5 for a causal model, 2 otherwise.

        Returns
        -------
        monitor : :class:`~sklstm.ecg.ArrhythmiaMonitor`
            A monitor at the start of a recording, reading with this model.
        """
        check_is_fitted(self)
        return ArrhythmiaMonitor(
            self, fs=fs, lookahead=lookahead, history=history, interval=interval
        )

    def _predict_proba_rows(self, X, start):
        """``predict_proba(X)[start:]``: here each row is read alone."""
        return self.predict_proba(np.asarray(X)[start:])

    def predict(self, X):
        """AAMI class of each beat: the class of highest probability.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_columns)
            Beat table read with this model's settings.

        Returns
        -------
        y : ndarray of str of shape (n_beats,)
            Predicted classes.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # -- checks ------------------------------------------------------------------

    def _n_columns(self):
        """Steps of a beat's window, and the columns of the beat table of these settings."""
        n_steps = len(_window_offsets(1.0, self.before, self.after, self.sampling_rate))
        return n_steps, (2 if self.relative else 1) * n_steps + len(self.rr)

    def _check_table(self, X, *, reset):
        X = validate_data(self, X, dtype=(np.float32, np.float64), reset=reset)
        n_steps, n_columns = self._n_columns()
        # After fit, the width is the fitted one (validate_data checks it).
        if reset and X.shape[1] != n_columns:
            raise ValueError(
                f"X has {X.shape[1]} columns, but a beat table of this model's settings "
                f"(before={self.before:g}, after={self.after:g}, "
                f"sampling_rate={self.sampling_rate:g}, relative={self.relative}, "
                f"{len(self.rr)} RR features) has {n_columns}: read the beats with "
                "its load_beats or read_beats."
            )
        return X, n_steps

    def _check_names(self, **named):
        """Refuse unknown RR features, and unknown names in ``named`` (param: (names, allowed)).

        A causal model's RR features must not read the next beat.
        """
        for param, (names, allowed) in {"rr": (self.rr, RR_FEATURES), **named}.items():
            unknown = [n for n in names if n not in allowed]
            if unknown:
                raise ValueError(
                    f"{param} has unknown name(s) {unknown}; choose among {list(allowed)}."
                )
        _check_rr_names(self.rr, causal=self.causal)

    def _check_labels(self, y, n_beats, classes):
        """``y`` as an array, once it holds AAMI classes and two of ``classes``."""
        y = np.asarray(y)
        if y.shape != (n_beats,):
            raise ValueError(f"y must have shape ({n_beats},), got {y.shape}.")
        unknown = sorted(set(np.unique(y).tolist()) - set(AAMI_CLASSES))
        if unknown:
            why = " (unmatched detected beats, labelled '', cannot be trained on)"
            raise ValueError(
                f"y has label(s) {unknown[:5]} that are not AAMI classes {list(AAMI_CLASSES)}"
                + (why if "" in unknown else "")
                + "."
            )
        trained = sorted(set(np.unique(y).tolist()) & set(classes))
        if len(trained) < 2:
            raise ValueError(
                f"y has beats of {len(trained)} of the classes {list(classes)} "
                f"({trained}): a classifier needs two."
            )
        return y
