"""R-peak detection, and matching detected beats to reference beats.

The detector follows Pan & Tompkins (1985): a 5-15 Hz band-pass keeps the
QRS energy, the squared derivative integrated over 150 ms gives one lobe per
QRS, and adaptive signal/noise thresholds with search-back for missed beats
and a slope test against T waves decide which lobes are beats. Everything but
the decision loop (a few thousand candidates per half hour) is vectorized.
"""

from numbers import Real

import numpy as np
from scipy import ndimage, signal
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["detect_r_peaks", "match_beats"]


@validate_params(
    {
        "x": ["array-like"],
        "fs": [Interval(Real, 0, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def detect_r_peaks(x, *, fs):
    """Detect the R peaks of one ECG lead.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        The lead, raw or filtered (baseline wander does not matter).
    fs : float
        Sampling frequency in Hz.

    Returns
    -------
    r_peaks : ndarray of int64 of shape (n_beats,)
        Sample of each beat's fiducial point: the largest deflection of the
        baseline-free signal within 80 ms of the QRS energy peak, increasing.

    Raises
    ------
    ValueError
        For a lead that is not 1D, not numbers, or holds NaN or infinity, and
        for ``fs <= 30`` Hz, too low for the 5-15 Hz QRS band-pass.

    Examples
    --------
    >>> import numpy as np
    >>> fs = 360
    >>> x = np.zeros(10 * fs)
    >>> x[np.arange(180, 10 * fs, 288)] = 1.0  # one spike every 0.8 s
    >>> x = np.convolve(x, np.hanning(25), mode="same")
    >>> detect_r_peaks(x, fs=fs)[:3]
    array([180, 468, 756])
    """
    x = _check_lead(x)
    _check_fs(fs)
    return _decide_and_place(_candidates(x, fs), fs)


def _check_fs(fs):
    if fs <= 2 * _BAND[1]:
        raise ValueError(
            f"fs={fs} Hz is too low for R-peak detection: its {_BAND[0]}-{_BAND[1]} Hz "
            f"QRS band-pass needs fs > {2 * _BAND[1]} Hz."
        )


def _check_lead(x):
    x = check_array(x, ensure_2d=False, dtype=np.float64, ensure_min_samples=0, input_name="x")
    if x.ndim != 1:
        raise ValueError(f"x must be one lead of shape (n_samples,), got shape {x.shape}.")
    return x


def _candidates(x, fs):
    """QRS candidates of a stretch of filtered signal, for :func:`_decide`.

    Returns the candidates' samples, energy heights, largest slope over the
    75 ms before each, and fiducial point (where the R peak is, should the
    candidate be accepted): everything the decision needs from the signal,
    so that a long record can be scanned in stretches and decided at once.
    """
    empty = np.zeros(0, dtype=np.int64)
    if len(x) < int(2 * fs) or np.ptp(x) < _FLAT:
        # Too short for the thresholds to settle, or flat: no beats. The detector
        # is otherwise scale-free, and would find "beats" in the rounding noise
        # that filtering leaves of a constant lead (a disconnected electrode).
        return empty, np.zeros(0), np.zeros(0), empty
    peak = np.abs(x).max()
    if peak > 1e100:
        # Squaring the slope would overflow; the detector is scale-free.
        x = x / peak
    band = signal.sosfiltfilt(signal.butter(2, _BAND, btype="band", fs=fs, output="sos"), x)
    slope = np.gradient(band)
    energy = ndimage.uniform_filter1d(slope * slope, size=max(int(0.15 * fs), 1))
    refractory = int(_REFRACTORY * fs)
    candidates, _ = signal.find_peaks(energy, distance=refractory)
    # On an amplitude scale, small beats are not crushed by squaring.
    heights = np.sqrt(np.maximum(energy[candidates], 0))  # rounding leaves tiny negatives
    keep = _dominant(candidates, heights, int(_NMS_WINDOW * fs), _NMS_RATIO) & (heights > 0)
    candidates, heights = candidates[keep], heights[keep]
    abs_slope = np.abs(slope)
    window = max(int(0.075 * fs), 1)
    slopes = np.array([abs_slope[max(p - window, 0) : p + 1].max() for p in candidates])
    return candidates, heights, slopes.reshape(-1), _fiducial_points(x, candidates, fs)


def _decide_and_place(candidates, fs):
    """R peaks from the candidates of a whole record (see :func:`_candidates`)."""
    peaks, heights, slopes, fiducials = candidates
    if len(peaks) == 0:
        return np.zeros(0, dtype=np.int64)
    accepted = _decide(peaks, heights, slopes, fs)
    return np.unique(fiducials[accepted])


# Tuned on DS1 (Se and +P within 150 ms, see docs/ecg_arrhythmia.md). No two
# reference beats of DS1 are closer than 250 ms: a shorter refractory period
# only lets tall P waves (record 108) through.
_BAND = (5, 15)
_REFRACTORY = 0.25
_NMS_WINDOW = 0.3
_NMS_RATIO = 0.4
_THRESHOLD = 0.3
# A lead whose peak-to-peak swing is below this is flat: 1e-9 of any unit ECGs
# are stored in (V, mV, ADC counts) is far below a real signal's resolution.
_FLAT = 1e-9


def _dominant(peaks, heights, window, ratio):
    """Candidates not dwarfed by a neighbour within ``window`` samples.

    A P or T wave next to its QRS has a small fraction of the QRS's energy;
    consecutive beats, even in tachycardia, have comparable energies.
    """
    keep = np.ones(len(peaks), dtype=bool)
    for shift in range(1, 4):
        close = peaks[shift:] - peaks[:-shift] < window
        keep[:-shift] &= ~(close & (heights[:-shift] < ratio * heights[shift:]))
        keep[shift:] &= ~(close & (heights[shift:] < ratio * heights[:-shift]))
    return keep


def _decide(peaks, heights, slopes, fs):
    """Pan-Tompkins' adaptive thresholds over the candidate energy peaks.

    Returns the indices of the accepted candidates, in order.
    """
    init = peaks < 2 * fs
    spk = 0.25 * heights[init].max() if init.any() else heights.max()
    npk = 0.5 * np.median(heights[init]) if init.any() else 0.0
    spk, npk = float(spk), float(min(npk, 0.5 * spk))
    t_wave_window = int(0.36 * fs)
    accepted = []  # indices in peaks
    rr_avg = None
    last_k = -1  # index in peaks of the last accepted candidate

    for k, (p, h) in enumerate(zip(peaks, heights)):
        threshold = npk + _THRESHOLD * (spk - npk)
        if h <= threshold:
            npk = 0.125 * h + 0.875 * npk
            continue
        if (
            accepted
            and p - peaks[accepted[-1]] < t_wave_window
            and slopes[k] < 0.5 * slopes[accepted[-1]]
        ):
            npk = 0.125 * h + 0.875 * npk  # a T wave: half the slope of the QRS before
            continue
        if accepted and rr_avg is not None and p - peaks[accepted[-1]] > 1.66 * rr_avg:
            # Search back for a beat missed in the gap, at half the threshold.
            gap = np.arange(last_k + 1, k)
            gap = gap[
                (peaks[gap] - peaks[accepted[-1]] > 0.2 * fs)
                & (p - peaks[gap] > 0.2 * fs)
                & (heights[gap] > 0.5 * threshold)
            ]
            if len(gap):
                best = gap[np.argmax(heights[gap])]
                accepted.append(int(best))
                spk = 0.25 * heights[best] + 0.75 * spk
        if accepted:
            rr = p - peaks[accepted[-1]]
            rr_avg = rr if rr_avg is None else 0.125 * rr + 0.875 * rr_avg
        accepted.append(k)
        spk = 0.125 * h + 0.875 * spk
        last_k = k
    return np.array(accepted, dtype=np.int64)


def _fiducial_points(x, qrs, fs):
    """The largest deflection around each QRS energy peak."""
    if len(qrs) == 0:
        return qrs.astype(np.int64)
    # A short median filter removes the baseline around each QRS.
    flat = x - ndimage.median_filter(x, size=int(0.2 * fs) | 1, mode="nearest")
    half = int(0.08 * fs)
    offsets = np.arange(-half, half + 1)
    idx = np.clip(qrs[:, None] + offsets, 0, len(x) - 1)
    return idx[np.arange(len(qrs)), np.abs(flat[idx]).argmax(axis=1)].astype(np.int64)


@validate_params(
    {
        "reference": ["array-like"],
        "detected": ["array-like"],
        "tolerance": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def match_beats(reference, detected, *, tolerance):
    """Pair detected beats with reference beats at most ``tolerance`` samples apart.

    Each beat is used once; a detected beat goes to the nearest reference
    beat it can, as EC57's beat-by-beat comparison does.

    Parameters
    ----------
    reference : array-like of int of shape (n_reference,)
        Reference beat samples, increasing.
    detected : array-like of int of shape (n_detected,)
        Detected beat samples, increasing.
    tolerance : float
        Largest distance in samples (150 ms is ``0.15 * fs``).

    Returns
    -------
    ref_index : ndarray of int64 of shape (n_matched,)
        Index in ``reference`` of each matched pair.
    det_index : ndarray of int64 of shape (n_matched,)
        Index in ``detected`` of each matched pair.

    Examples
    --------
    >>> match_beats([100, 400, 700], [90, 390, 420, 1000], tolerance=54)
    (array([0, 1]), array([0, 1]))
    """
    ref = np.asarray(reference, dtype=np.int64)
    det = np.asarray(detected, dtype=np.int64)
    ref_index, det_index = [], []
    i = j = 0
    while i < len(ref) and j < len(det):
        d = det[j] - ref[i]
        if abs(d) <= tolerance:
            # A later detection closer to this reference beat takes it instead.
            if j + 1 < len(det) and abs(det[j + 1] - ref[i]) < abs(d):
                j += 1
                continue
            ref_index.append(i)
            det_index.append(j)
            i += 1
            j += 1
        elif d < 0:
            j += 1
        else:
            i += 1
    return np.array(ref_index, dtype=np.int64), np.array(det_index, dtype=np.int64)
