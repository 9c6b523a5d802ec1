"""One sequence per beat: the signal around its R peak plus its RR-interval features.

:func:`extract_beats` turns a record into a table, one row per beat: the
filtered, per-record normalized signal from ``before`` seconds before the R
peak to ``after`` seconds after it, decimated, followed by the RR features.
:class:`BeatSequences` turns that table into what the recurrent estimators
read: each beat a ``(n_steps, n_channels)`` sequence whose first channel is the
signal and whose other channels repeat the RR features at every step.
"""

from numbers import Integral, Real

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

from ._detect import detect_r_peaks, match_beats
from ._filters import filter_ecg
from ._records import Record

__all__ = [
    "PAST_RR_RATIOS",
    "RR_FEATURES",
    "RR_RATIOS",
    "BeatSequences",
    "extract_beats",
    "rr_features",
]

# Beats per block when the beat table is filled (bounds the temporaries).
_TABLE_BLOCK = 8192

#: Names of the columns :func:`rr_features` returns.
RR_FEATURES = (
    "pre_rr",
    "post_rr",
    "local_rr",
    "record_rr",
    "pre_local",
    "post_local",
    "pre_record",
    "post_record",
    "post_pre",
    "irregularity",
)

#: The RR features without a unit, which compare across patients: what
#: :func:`extract_beats` keeps by default.
RR_RATIOS = ("pre_local", "post_local", "pre_record", "post_record", "post_pre")

#: The RR features that read the next beat, which a causal table cannot give.
NEXT_BEAT_RR = ("post_rr", "post_local", "post_record", "post_pre")

#: The ratios of :data:`RR_RATIOS` known when the beat arrives, without the
#: next one: the RR features of causal beat tables (``causal=True``).
PAST_RR_RATIOS = ("pre_local", "pre_record")

#: Beats up to and including each beat whose statistics stand for the
#: record's in a causal table: its amplitude, median beat and mean RR (about
#: two minutes at 60 beats a minute). Odd, so that a median is one beat's.
CAUSAL_BEATS = 127


@validate_params(
    {
        "r_peaks": ["array-like"],
        "fs": [Interval(Real, 0, None, closed="neither")],
        "local": [Interval(Integral, 1, None, closed="left")],
        "causal": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def rr_features(r_peaks, *, fs, local=10, causal=False):
    """RR-interval features of every beat of one record.

    Parameters
    ----------
    r_peaks : array-like of int of shape (n_beats,)
        R-peak samples of the record's beats, increasing; at least two.
    fs : float
        Sampling frequency in Hz.
    local : int, default=10
        Number of previous RR intervals (the beat's own included) whose mean
        is the local RR.
    causal : bool, default=False
        Make the record mean RR of each beat the mean previous RR of the
        :data:`CAUSAL_BEATS` beats up to it (fewer at the start), so that the
        columns of the previous RR never change as later beats arrive (those
        of the next RR, ``post_*``, need the next beat whatever this is).

    Returns
    -------
    features : ndarray of float64 of shape (n_beats, 10)
        Columns :data:`RR_FEATURES`: previous RR, next RR (seconds), local mean
        RR, record mean RR, the ratios previous/local, next/local,
        previous/record, next/record, next/previous, and the irregularity of
        the rhythm before the beat: the mean absolute change between successive
        previous RR over the ``local`` beats before this one, divided by the
        local mean RR (0 for the first beat). The first beat's previous RR is
        its next RR and the last beat's next RR its previous RR. The ratios are
        what carries across patients: a premature beat is early for *this*
        heart, and a compensatory pause long for it; in atrial fibrillation,
        where every beat is irregular, earliness means less.

    Examples
    --------
    >>> rr_features([0, 360, 720, 900, 1440], fs=360, local=2)[:, :3]
    array([[1.  , 1.  , 1.  ],
           [1.  , 1.  , 1.  ],
           [1.  , 0.5 , 1.  ],
           [0.5 , 1.5 , 0.75],
           [1.5 , 1.5 , 1.  ]])
    """
    r_peaks = _check_peaks(r_peaks, "r_peaks")
    if len(r_peaks) < 2:
        raise ValueError(f"RR features need at least two beats, got {r_peaks.size}.")
    # Overflow is caught below, with a message, rather than warned about.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        rr = np.diff(r_peaks) / fs
        pre = np.concatenate([rr[:1], rr])
        post = np.concatenate([rr, rr[-1:]])
        csum = np.concatenate([[0.0], np.cumsum(pre)])
        idx = np.arange(len(pre))
        start = np.maximum(idx + 1 - local, 0)
        local_rr = (csum[idx + 1] - csum[start]) / (idx + 1 - start)
        if causal:
            first = np.maximum(idx + 1 - CAUSAL_BEATS, 0)
            record_rr = (csum[idx + 1] - csum[first]) / (idx + 1 - first)
        else:
            record_rr = np.full_like(pre, rr.mean())
        # Changes between successive previous RR, over the beats before this one.
        dsum = np.concatenate([[0.0, 0.0], np.cumsum(np.abs(np.diff(pre)))])
        before = np.maximum(idx - local, 0)
        count = np.maximum(idx - before, 1)
        irregularity = (dsum[idx] - dsum[before]) / count / local_rr
        features = np.column_stack(
            [
                pre,
                post,
                local_rr,
                record_rr,
                pre / local_rr,
                post / local_rr,
                pre / record_rr,
                post / record_rr,
                post / pre,
                irregularity,
            ]
        )
    if not np.isfinite(features).all():
        # Only beats sample numbers apart at an extreme fs get here (overflow).
        raise ValueError(
            f"RR features overflow: r_peaks spanning {r_peaks[-1] - r_peaks[0]:g} samples "
            f"at fs={fs:g} Hz give intervals out of the floating-point range."
        )
    return features


def _check_peaks(peaks, name, n_samples=None):
    """R-peak samples as float64 or int64: 1D, finite, integral, increasing, in range."""
    try:
        peaks = np.asarray(peaks)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of sample numbers ({exc}).") from None
    if peaks.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {peaks.shape}.")
    if peaks.dtype == bool or not (
        np.issubdtype(peaks.dtype, np.integer) or np.issubdtype(peaks.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold sample numbers, got dtype {peaks.dtype}.")
    peaks = peaks.astype(np.float64)
    if not np.isfinite(peaks).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    if np.any(peaks != np.round(peaks)):
        raise ValueError(f"{name} must be whole sample numbers.")
    if np.any(np.diff(peaks) <= 0):
        raise ValueError(f"{name} must be strictly increasing (sorted, no duplicates).")
    if n_samples is not None:
        if len(peaks) and (peaks[0] < 0 or peaks[-1] >= n_samples):
            raise ValueError(
                f"{name} must lie within the signal's {n_samples} samples, got "
                f"{peaks[0]:.0f} to {peaks[-1]:.0f}."
            )
        return peaks.astype(np.int64)
    return peaks


# Order of the spline that reads the signal between its samples. Quintic: for
# content below the 35-Hz low-pass, the error stays under 2e-3 of the
# amplitude at 128 Hz and under 1e-4 from 250 Hz on (cubic: 2e-2 and 1e-3).
_SPLINE_ORDER = 5


def _window_offsets(fs, before, after, sampling_rate):
    """Offsets from the R peak, in samples at ``fs``, of the window's steps.

    The steps are exactly ``1 / sampling_rate`` seconds apart whatever ``fs``
    is, the R peak itself one of them: every record gives the same window
    length and timing. They fall on samples when ``fs`` is a multiple of
    ``sampling_rate`` (MIT-BIH's 360 Hz and 90 Hz), between samples otherwise.
    """
    steps = np.arange(-round(before * sampling_rate), round(after * sampling_rate) + 1)
    offsets = steps * (fs / sampling_rate)
    whole = np.round(offsets)
    return whole.astype(np.int64) if np.allclose(offsets, whole, rtol=0, atol=1e-9) else offsets


def _read_windows(x, samples, offsets, *, n, first=0):
    """The windows ``x`` holds at ``samples + offsets``, clipped to the record.

    ``x`` is the filtered signal from record sample ``first`` on, of a record of
    ``n`` samples. Whole offsets read the samples themselves; fractional ones
    interpolate the (low-passed) signal with a quintic spline. Beats near the
    record's ends repeat its first or last sample.
    """
    if offsets.dtype.kind == "i":
        return x[np.clip(samples[:, None] + offsets, 0, n - 1) - first]
    from scipy.ndimage import map_coordinates, spline_filter1d

    coefficients = spline_filter1d(x, order=_SPLINE_ORDER, mode="mirror")
    out = np.empty((len(samples), len(offsets)))
    for start in range(0, len(samples), _TABLE_BLOCK):
        block = slice(start, start + _TABLE_BLOCK)
        positions = np.clip(samples[block, None] + offsets, 0, n - 1) - first
        out[block] = map_coordinates(
            coefficients,
            positions.reshape(1, -1),
            order=_SPLINE_ORDER,
            mode="mirror",
            prefilter=False,
        ).reshape(positions.shape)
    return out


@validate_params(
    {
        "record": [Record],
        "r_peaks": [StrOptions({"reference", "detect"}), "array-like"],
        "before": [Interval(Real, 0, None, closed="left")],
        "after": [Interval(Real, 0, None, closed="left")],
        "sampling_rate": [Interval(Real, 0, None, closed="neither")],
        "baseline": [StrOptions({"median", "highpass"}), None],
        "lowpass": [Interval(Real, 0, None, closed="neither"), None],
        "local": [Interval(Integral, 1, None, closed="left")],
        "relative": ["boolean"],
        "rr": [list, tuple],
        "causal": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def extract_beats(
    record,
    *,
    r_peaks="reference",
    before=0.25,
    after=0.45,
    sampling_rate=90.0,
    baseline="highpass",
    lowpass=35.0,
    local=10,
    relative=True,
    rr=RR_RATIOS,
    causal=False,
):
    """One row per beat of a record: its signal window and RR features.

    Parameters
    ----------
    record : Record
        A record read by :func:`~sklstm.ecg.read_record`.
    r_peaks : {"reference", "detect"} or array-like of int, default="reference"
        Where the beats are: the reference annotations, the R peaks
        :func:`~sklstm.ecg.detect_r_peaks` finds, or given samples.
    before : float, default=0.25
        Seconds of signal before the R peak (the P wave).
    after : float, default=0.45
        Seconds after it (the T wave).
    sampling_rate : float, default=90.0
        Rate in Hz of the window's steps, whatever the record's rate: a record
        at 128, 250 or 500 Hz gives the same window length and timing as one
        at 360 Hz (its signal read between samples where the steps fall
        there). The low-pass filter keeps the content below its Nyquist
        frequency.
    baseline : {"highpass", "median"} or None, default="highpass"
        Baseline removal of :func:`~sklstm.ecg.filter_ecg`.
    lowpass : float or None, default=35.0
        Low-pass cut-off of :func:`~sklstm.ecg.filter_ecg`.
    local : int, default=10
        Window of the local RR mean, see :func:`rr_features`.
    relative : bool, default=True
        Also give each window minus the record's median window: the beat's
        departure from this patient's usual beat, which compares across
        patients better than the shape itself.
    rr : sequence of str, default=RR_RATIOS
        Which of :data:`RR_FEATURES` to give, in this order.
    causal : bool, default=False
        Give each beat the row it would get if the record ended ``after``
        seconds past its R peak, so that no row changes as the record goes
        on (what a live monitor needs): the baseline filter runs forwards
        only (see :func:`~sklstm.ecg.filter_ecg`), the median amplitude,
        median window and mean RR are those of the :data:`CAUSAL_BEATS`
        beats up to the beat (fewer at the start of the record), and ``rr``
        may not read the next beat (:data:`PAST_RR_RATIOS` are the ratios
        of the default that do not). The first beat's previous RR is still
        its next one, as it has none, and the zero-phase low-pass (35 Hz)
        still reads a few tens of milliseconds past the window.

    Returns
    -------
    beats : :class:`~sklearn.utils.Bunch`
        - ``X``: ndarray of float32 of shape (n_beats, n_signals * n_steps +
          len(rr)), the window (divided by the record's median absolute R
          amplitude, so that gains and patients compare), with ``relative``
          the window minus the record's median window, then the RR features;
        - ``y``: ndarray of str of shape (n_beats,), the AAMI class of each
          beat's reference annotation (``""`` for detected beats that match
          none, see :func:`~sklstm.ecg.match_beats`);
        - ``samples``: ndarray of int64 of shape (n_beats,), R-peak samples;
        - ``groups``: ndarray of str of shape (n_beats,), the record name;
        - ``n_steps``: int, window length; ``n_signals``: int, 2 with
          ``relative`` else 1; ``feature_names``: list of str.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.ecg import Record, extract_beats
    >>> fs = 360.0
    >>> samples = np.arange(180, 3600, 288)
    >>> x = np.zeros(3600)
    >>> x[samples] = 1.0
    >>> rec = Record("demo", x, fs, "MLII", samples, np.array(["N"] * len(samples)),
    ...              np.zeros((0, 2), dtype=int))
    >>> beats = extract_beats(rec)
    >>> beats.X.shape, beats.n_steps, beats.n_signals, beats.y[:3].tolist()
    ((12, 131), 63, 2, ['N', 'N', 'N'])
    """
    fs = _check_record(record)
    n = len(record.signal)
    if (before + after) * fs > n:
        raise ValueError(
            f"Record {record.name!r}: the window of before + after = {before + after:g} s "
            f"is longer than the record ({n} samples at {fs:g} Hz)."
        )
    if not (isinstance(r_peaks, str) and r_peaks == "detect"):
        # Fail before filtering: a 24-hour record takes seconds to filter.
        given = record.beat_samples if isinstance(r_peaks, str) else r_peaks
        _check_beat_count(
            record,
            _check_peaks(
                given, "record.beat_samples" if isinstance(r_peaks, str) else "r_peaks", n
            ),
            "annotated" if isinstance(r_peaks, str) else "given",
        )
    _check_rr_names(rr, causal=causal)
    x = filter_ecg(record.signal, fs=fs, baseline=baseline, lowpass=lowpass, causal=causal)
    reference = isinstance(r_peaks, str) and r_peaks == "reference"
    if reference:
        samples = _check_peaks(record.beat_samples, "record.beat_samples", n)
    elif isinstance(r_peaks, str):
        samples = _check_beat_count(record, detect_r_peaks(x, fs=fs), "detected")
    else:
        samples = _check_peaks(r_peaks, "r_peaks", n)
    offsets = _window_offsets(fs, before, after, sampling_rate)
    # Edge beats repeat the first or last sample rather than being dropped:
    # every beat gets a label, as EC57 counts them all.
    windows = _read_windows(x, samples, offsets, n=n)
    labels = _labels(record, samples, reference=reference)
    zero = int(np.flatnonzero(offsets == 0)[0])
    return _beat_table(
        windows,
        zero,
        samples,
        labels,
        record.name,
        fs=fs,
        local=local,
        relative=relative,
        rr=rr,
        causal=causal,
    )


def _check_record(record):
    """The record's sampling frequency, once its signal and beats are usable."""
    fs = record.fs
    if not (isinstance(fs, Real) and np.isfinite(fs) and fs > 0):
        raise ValueError(f"Record {record.name!r}: fs must be a positive number, got {fs!r}.")
    signal = np.asarray(record.signal)
    if signal.ndim != 1 or len(signal) == 0:
        raise ValueError(
            f"Record {record.name!r}: signal must be one non-empty lead, got shape {signal.shape}."
        )
    if signal.dtype.kind not in "fiub":
        raise TypeError(f"Record {record.name!r}: signal must hold numbers, got {signal.dtype}.")
    if not np.isfinite(signal).all():
        raise ValueError(f"Record {record.name!r}: signal contains NaN or infinity.")
    if len(record.beat_symbols) != len(record.beat_samples):
        raise ValueError(
            f"Record {record.name!r}: {len(record.beat_samples)} beat samples but "
            f"{len(record.beat_symbols)} beat symbols."
        )
    return float(fs)


def _check_beat_count(record, samples, how):
    """``samples`` when there are at least the two beats an RR interval needs."""
    if len(samples) < 2:
        raise ValueError(
            f"Record {record.name!r}: {len(samples)} beat(s) {how}; beat features need "
            "at least two (the RR intervals)."
        )
    return samples


def _check_rr_names(rr, *, causal=False):
    unknown = [name for name in rr if name not in RR_FEATURES]
    if unknown:
        raise ValueError(f"Unknown RR feature(s) {unknown}; choose from {list(RR_FEATURES)}.")
    ahead = [name for name in rr if name in NEXT_BEAT_RR]
    if causal and ahead:
        raise ValueError(
            f"causal=True gives each beat its row before the next beat arrives, but rr "
            f"reads the next beat in {ahead}: choose among the others, e.g. "
            f"rr={PAST_RR_RATIOS}."
        )


def _labels(record, samples, *, reference):
    """AAMI class of each beat: its own, or the matched reference beat's."""
    labels = record.beat_classes
    if reference:
        return labels
    ref = _check_peaks(record.beat_samples, "record.beat_samples")
    ref_index, det_index = match_beats(ref, samples, tolerance=0.15 * record.fs)
    matched = np.full(len(samples), "", dtype="<U1")
    matched[det_index] = labels[ref_index]
    return matched


def _beat_table(windows, zero, samples, labels, name, *, fs, local, relative, rr, causal=False):
    """The rows of :func:`extract_beats` from the filtered windows of a record's beats.

    ``windows`` (float64, one row per beat, the R peak at column ``zero``) is
    normalized in place. Everything computed over the whole record (the
    amplitude, the median beat, the RR features) is computed here, so that a
    record read in chunks gets the rows it would get read at once. The rows
    are written straight into the float32 table, a block of beats at a time:
    beyond ``windows`` and the table, memory stays bounded however long the
    record (a 24-hour record has over 100,000 beats).
    """
    n_beats, n_steps = windows.shape
    if causal:
        # Each beat's own statistics: those of the beats up to it.
        amplitude = _trailing_medians(np.abs(windows[:, zero : zero + 1]))
        if relative:
            median = _trailing_medians(windows)
        windows /= np.where(amplitude > 0, amplitude, 1.0)
    else:
        amplitude = np.median(np.abs(windows[:, zero])) if len(samples) else 1.0
        windows /= amplitude if amplitude > 0 else 1.0
    n_signals = 2 if relative else 1
    columns = [RR_FEATURES.index(name) for name in rr]
    names = [f"t{k}" for k in range(n_steps)]
    X = np.empty((n_beats, n_signals * n_steps + len(columns)), dtype=np.float32)
    X[:, :n_steps] = windows
    if relative:
        names += [f"d{k}" for k in range(n_steps)]
        if causal:
            # The median of the raw windows, scaled as each beat is: the same as
            # the median of the windows scaled by this beat's amplitude.
            median /= np.where(amplitude > 0, amplitude, 1.0)
        else:
            # Column by column: the same medians as along axis 0, without a
            # sorted copy of every window.
            median = np.array([np.median(windows[:, k]) for k in range(n_steps)])
        for start in range(0, n_beats, _TABLE_BLOCK):
            block = slice(start, start + _TABLE_BLOCK)
            X[block, n_steps : 2 * n_steps] = windows[block] - (
                median[block] if causal else median
            )
    X[:, n_signals * n_steps :] = rr_features(samples, fs=fs, local=local, causal=causal)[
        :, columns
    ]
    names += list(rr)
    if not all(
        np.isfinite(X[i : i + _TABLE_BLOCK]).all() for i in range(0, n_beats, _TABLE_BLOCK)
    ):
        raise ValueError(
            f"Record {name!r}: beat features out of the float32 range (a signal with "
            "samples far larger than its R peaks?)."
        )
    return Bunch(
        X=X,
        y=labels,
        samples=samples,
        groups=np.full(len(samples), name),
        n_steps=n_steps,
        n_signals=2 if relative else 1,
        feature_names=names,
    )


def _trailing_medians(values):
    """Median of each column over the :data:`CAUSAL_BEATS` rows up to each row.

    The first rows take the median of the rows they have.
    """
    n = len(values)
    out = np.empty_like(values)
    head = min(CAUSAL_BEATS - 1, n)
    for i in range(head):
        out[i] = np.median(values[: i + 1], axis=0)
    if n > head:
        # A window ending at each row (origin shifted by half of it); its
        # first rows, padded, are those computed above and are dropped. Column
        # by column: scipy's 1-D median filter is some 20 times faster.
        for k in range(values.shape[1]):
            full = ndimage.median_filter(
                values[:, k], size=CAUSAL_BEATS, origin=CAUSAL_BEATS // 2, mode="nearest"
            )
            out[head:, k] = full[head:]
    return out


class BeatSequences(TransformerMixin, BaseEstimator):
    """Beat table to sequences: the signal as steps, scalar features as channels.

    The recurrent estimators read sequences, while the RR features are one
    number per beat. This transformer repeats them at every step, so each
    beat becomes a ``(n_steps, 1 + n_static)`` sequence and the network sees
    rhythm and morphology together from the first step on.

    Parameters
    ----------
    n_signals : int, default=2
        Number of signals laid out one after the other at the start of each
        row, each over the same steps (``extract_beats``' window and, with
        ``relative``, its departure from the record's median beat).
    n_static : int, default=5
        Number of trailing columns that are per-beat scalars (the RR features
        of :func:`extract_beats`).
    static : {"repeat", "drop"}, default="repeat"
        Repeat the scalars as channels, or drop them (morphology only).

    Attributes
    ----------
    n_features_in_ : int
        Columns seen in ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` got a DataFrame.
    n_steps_ : int
        Steps of each output sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.ecg import BeatSequences
    >>> X = np.array([[0.0, 1.0, 2.0, 0.8, 1.1]])
    >>> BeatSequences(n_signals=1, n_static=2).fit_transform(X)
    array([[[0. , 0.8, 1.1],
            [1. , 0.8, 1.1],
            [2. , 0.8, 1.1]]])
    """

    _parameter_constraints: dict = {
        "n_signals": [Interval(Integral, 1, None, closed="left")],
        "n_static": [Interval(Integral, 0, None, closed="left")],
        "static": [StrOptions({"repeat", "drop"})],
    }

    def __init__(self, *, n_signals=2, n_static=5, static="repeat"):
        self.n_signals = n_signals
        self.n_static = n_static
        self.static = static

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the table and record the sequence length.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_signals * n_steps + n_static)
            Beat table, e.g. ``extract_beats(...).X``.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        X = validate_data(self, X, dtype=(np.float64, np.float32))
        n_signal_columns = X.shape[1] - self.n_static
        if n_signal_columns <= 0 or n_signal_columns % self.n_signals:
            raise ValueError(
                f"X has {X.shape[1]} feature(s) (columns): after n_static={self.n_static} "
                f"scalars, n_signals={self.n_signals} signals of at least one step each "
                "need a positive multiple of n_signals columns."
            )
        self.n_steps_ = n_signal_columns // self.n_signals
        return self

    def transform(self, X):
        """Build the sequences.

        Parameters
        ----------
        X : array-like of shape (n_beats, n_signals * n_steps + n_static)
            Beat table.

        Returns
        -------
        sequences : ndarray of shape (n_beats, n_steps, n_channels)
            ``n_channels`` is ``n_signals + n_static`` with ``static="repeat"``,
            else ``n_signals``.
            float32 for float32 ``X``, else float64.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        n, T, S = len(X), self.n_steps_, self.n_signals
        signals = X[:, : S * T].reshape(n, S, T).transpose(0, 2, 1)
        if self.static == "drop" or self.n_static == 0:
            return np.ascontiguousarray(signals)
        static = np.broadcast_to(X[:, None, S * T :], (n, T, self.n_static))
        return np.concatenate([signals, static], axis=2)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
