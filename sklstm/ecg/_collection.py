"""Beats read from record files: one at a time in bounded memory, or many at once."""

from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._beats import (
    RR_RATIOS,
    _beat_table,
    _check_rr_names,
    _labels,
    _read_windows,
    _window_offsets,
    extract_beats,
)
from ._detect import _candidates, _decide_and_place
from ._filters import filter_ecg
from ._records import (
    PACED_RECORDS,
    Record,
    RecordError,
    _open_lead,
    _read_annotations,
    _read_lead,
    aami_classes,
    list_records,
)

__all__ = ["load_beats", "read_beats"]

# Signal read on either side of each chunk: the zero-phase filters' transients
# (0.5 Hz high-pass: under a second to settle to 1e-6) and the detector's
# adaptive thresholds (they start from the first 2 s and forget at 1/8 per
# beat) have settled long before the chunk's own samples begin.
_OVERLAP_SECONDS = 30.0


@validate_params(
    {
        "path": [str, Path],
        "lead": [str, Interval(Integral, 0, None, closed="left")],
        "annotator": [str, None],
        "r_peaks": [StrOptions({"reference", "detect"})],
        "chunk_seconds": [Interval(Real, 60, None, closed="left"), None],
        "before": [Interval(Real, 0, 10, closed="left")],
        "after": [Interval(Real, 0, 10, closed="left")],
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
def read_beats(
    path,
    *,
    lead="MLII",
    annotator="atr",
    r_peaks="reference",
    chunk_seconds=3600.0,
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
    """Beats of one record file, read and filtered a stretch at a time.

    The same rows as ``extract_beats(read_record(path), ...)``, without ever
    holding more than ``chunk_seconds`` of signal (plus 30 s on either side):
    a 24-hour Holter record takes the memory of an hour of it, plus about
    1 kB per beat for the rows. Each stretch is filtered (and its beats
    detected) with 30 s of the neighbouring signal around it, so the filters
    and the detector have settled where the stretch begins, and each beat
    belongs to the stretch its R peak falls in. What is computed over the
    whole record (amplitude normalization, median beat, RR features) still
    is, from all beats once they are found.

    Parameters
    ----------
    path : str or path-like
        Record path without extension (``DIR/101`` for ``DIR/101.hea``).
    lead : str or int, default="MLII"
        Name of the lead, as in the header, or its 0-based index (see
        :func:`~sklstm.ecg.read_record`).
    annotator : str or None, default="atr"
        Extension of the reference annotations; None reads none (every beat
        then has the label ``""``, and ``r_peaks`` must be ``"detect"``).
    r_peaks : {"reference", "detect"}, default="reference"
        Beats at the reference annotations, or detected by
        :func:`~sklstm.ecg.detect_r_peaks` (and matched to the reference,
        when read, for their labels).
    chunk_seconds : float or None, default=3600.0
        Length of the stretches, at least 60 s; a record no longer is read
        at once, and so is every record when None.
    before, after, sampling_rate, baseline, lowpass, local, relative, rr, causal
        As in :func:`~sklstm.ecg.extract_beats`.

    Returns
    -------
    beats : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``samples``, ``groups``, ``n_steps``, ``n_signals`` and
        ``feature_names`` as :func:`~sklstm.ecg.extract_beats` gives them, and
        ``name``, ``lead``, ``fs``, ``n_samples``; ``reference_samples``,
        ``reference_classes`` and ``vf_episodes`` of the reference
        annotations (empty without them).

    Raises
    ------
    RecordError
        When a file is missing or unreadable, the lead absent, or the record
        has fewer than two beats; the message names the file.

    Examples
    --------
    >>> from sklstm.ecg import read_beats
    >>> beats = read_beats("mitdb/119")  # doctest: +SKIP
    >>> beats.X.shape  # doctest: +SKIP
    (1987, 131)
    """
    path = Path(path)
    _check_rr_names(rr, causal=causal)
    if r_peaks == "reference" and annotator is None:
        raise ValueError('r_peaks="reference" needs the reference annotations (annotator).')
    head, channel, dat = _open_lead(path, lead)
    fs, n = float(head.fs), head.sig_len
    params = dict(
        before=before,
        after=after,
        sampling_rate=sampling_rate,
        baseline=baseline,
        lowpass=lowpass,
        local=local,
        relative=relative,
        rr=rr,
        causal=causal,
    )
    whole = not n or chunk_seconds is None or n <= int(chunk_seconds * fs)
    if whole:
        signal = _read_lead(path, head, channel, dat)
        n = len(signal)
    ref = np.zeros(0, dtype=np.int64)
    symbols = np.zeros(0, dtype="<U1")
    vf = np.zeros((0, 2), dtype=np.int64)
    if annotator is not None:
        ref, symbols, vf = _read_annotations(path, annotator, n)
    name = head.sig_name[channel]
    record = Record(path.name, signal if whole else np.zeros(1), fs, name, ref, symbols, vf)
    if r_peaks == "reference" and len(ref) < 2:
        raise RecordError(
            f"{path.with_name(f'{path.name}.{annotator}')}: fewer than two reference beats "
            "(without annotations, detect the beats)."
        )
    try:
        if whole:
            beats = extract_beats(record, r_peaks=r_peaks, **params)
        else:
            beats = _chunked(path, head, channel, dat, record, r_peaks, chunk_seconds, params)
    except ValueError as exc:  # too few beats detected, features out of range
        raise RecordError(f"{dat}: {exc}") from None
    beats.update(
        name=path.name,
        lead=name,
        fs=fs,
        n_samples=int(n),
        reference_samples=ref,
        reference_classes=aami_classes(symbols),
        vf_episodes=vf,
    )
    return beats


def _stretches(path, head, channel, dat, chunk, margin, baseline, lowpass, causal):
    """Each stretch's core ``[start, stop)``, and its filtered signal from ``lo`` on."""
    n, fs = head.sig_len, float(head.fs)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        lo, hi = max(start - margin, 0), min(stop + margin, n)
        x = filter_ecg(
            _read_lead(path, head, channel, dat, lo, hi),
            fs=fs,
            baseline=baseline,
            lowpass=lowpass,
            causal=causal,
        )
        yield start, stop, lo, x


def _chunked(path, head, channel, dat, record, r_peaks, chunk_seconds, params):
    """:func:`extract_beats` over a record read a stretch at a time."""
    fs, n = record.fs, head.sig_len
    chunk, margin = int(chunk_seconds * fs), int(_OVERLAP_SECONDS * fs)
    filters = (params["baseline"], params["lowpass"], params["causal"])
    if r_peaks == "detect":
        # The detector's decisions run over the QRS candidates of the whole
        # record, in order, exactly as on the record read at once; only the
        # candidates (a few numbers per beat) come from the stretches.
        parts = []
        for start, stop, lo, x in _stretches(path, head, channel, dat, chunk, margin, *filters):
            peaks, heights, slopes, fiducials = _candidates(x, fs)
            core = (peaks + lo >= start) & (peaks + lo < stop)
            parts.append((peaks[core] + lo, heights[core], slopes[core], fiducials[core] + lo))
        samples = _decide_and_place([np.concatenate(p) for p in zip(*parts)], fs)
    else:
        samples = record.beat_samples
    offsets = _window_offsets(fs, params["before"], params["after"], params["sampling_rate"])
    # Filled in place, stretch by stretch: no second copy of every window.
    windows = np.empty((len(samples), len(offsets)))
    for start, stop, lo, x in _stretches(path, head, channel, dat, chunk, margin, *filters):
        core = (samples >= start) & (samples < stop)
        windows[core] = _read_windows(x, samples[core], offsets, n=n, first=lo)
    labels = _labels(record, samples, reference=r_peaks == "reference")
    zero = int(np.flatnonzero(offsets == 0)[0])
    return _beat_table(
        windows,
        zero,
        samples,
        labels,
        record.name,
        fs=fs,
        local=params["local"],
        relative=params["relative"],
        rr=params["rr"],
        causal=params["causal"],
    )


def load_beats(
    data_dir,
    records=None,
    *,
    lead="MLII",
    r_peaks="reference",
    exclude_paced=True,
    n_jobs=2,
    errors="raise",
    **extract_params,
):
    """Read records and extract their beats, concatenated for cross-validation.

    Parameters
    ----------
    data_dir : str or path-like
        Folder of the WFDB records.
    records : list of str, default=None
        Record names; every record of the folder when None (see
        :func:`~sklstm.ecg.list_records`).
    lead : str or int, default="MLII"
        Lead to read, by name or 0-based index (see
        :func:`~sklstm.ecg.read_record`).
    r_peaks : {"reference", "detect"}, default="reference"
        Beats from the reference annotations, or detected.
    exclude_paced : bool, default=True
        Leave out the paced records (:data:`~sklstm.ecg.PACED_RECORDS`), as
        the AAMI evaluation does.
    n_jobs : int, default=2
        Records processed at once in threads (numpy, scipy and wfdb's decoding
        release the GIL for most of the work).
    errors : {"raise", "collect"}, default="raise"
        Raise the first :class:`~sklstm.ecg.RecordError`, or skip bad records
        and list them in ``failures``.
    **extract_params
        Passed to :func:`~sklstm.ecg.read_beats` (window, filters...).

    Returns
    -------
    beats : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``samples``, ``groups`` (record of each beat, for
        :class:`~sklearn.model_selection.GroupKFold`), ``n_steps``,
        ``n_signals`` and ``feature_names`` as in :func:`~sklstm.ecg.extract_beats`, over all
        good records in order; ``records``: their names; ``failures``: list of
        ``(path, reason)``.
    """
    data_dir = Path(data_dir)
    names = list_records(data_dir) if records is None else [str(r) for r in records]
    if exclude_paced:
        names = [n for n in names if n not in PACED_RECORDS]
    if not names:
        raise RecordError(f"{data_dir}: no records to read.")

    def one(name):
        try:
            return read_beats(data_dir / name, lead=lead, r_peaks=r_peaks, **extract_params)
        except RecordError as exc:
            if errors == "raise":
                raise
            return (str(data_dir / name), str(exc))

    with ThreadPoolExecutor(max_workers=max(n_jobs, 1)) as pool:
        results = list(pool.map(one, names))
    good = [(n, r) for n, r in zip(names, results) if not isinstance(r, tuple)]
    failures = [r for r in results if isinstance(r, tuple)]
    if not good:
        return Bunch(records=[], failures=failures)
    parts = [r for _, r in good]
    return Bunch(
        X=np.concatenate([p.X for p in parts]),
        y=np.concatenate([p.y for p in parts]),
        samples=np.concatenate([p.samples for p in parts]),
        groups=np.concatenate([p.groups for p in parts]),
        n_steps=parts[0].n_steps,
        n_signals=parts[0].n_signals,
        feature_names=parts[0].feature_names,
        records=[n for n, _ in good],
        failures=failures,
    )
