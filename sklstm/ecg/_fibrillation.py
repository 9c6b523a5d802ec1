"""Where a record is in atrial fibrillation: an irregular rhythm without P waves.

In atrial fibrillation the atria do not beat: the ventricles answer an
irregular stream of impulses, so the RR intervals vary at random and no P
wave comes before the QRS. A beat there may come early, but it is not an
atrial premature beat (the AAMI classes call the beats of atrial
fibrillation N), and an RR model reads its earliness as S: in record-grouped
cross-validation on DS1, two thirds of the false S beats of the default
tagger were beats of atrial fibrillation or flutter (docs: the ECG
application, round 7). :class:`~sklstm.ecg.ArrhythmiaTagger` gives their
N + S probability to N where :func:`fibrillation_evidence` finds both signs.

Both measures look at the beats of a run at most ``context`` beats away from
each beat (fewer near the run's ends), like the RR model's context; a causal
model's, at the ``2 * context`` beats before it:

- **irregularity**: the smallest, over lags of 1, 2 and 3 beats, of the
  median absolute change of the previous RR between beats that many apart,
  over the median previous RR. Frequent ectopic beats make successive RR
  differ too, but in a pattern: bigeminy repeats every two beats and
  trigeminy every three, so one of the lags finds the rhythm regular, and
  isolated ectopic beats do not move a median. In atrial fibrillation no lag
  does.
- **P-wave coherence**: the energy of the mean of the beats' signal before
  the QRS (from the window's start to 70 ms before the R peak, each beat's
  segment less its own mean) over the mean energy of the segments. Near 1
  where every beat has the same P wave, near ``1 / (2 * context + 1)`` for
  segments that share nothing, as fibrillatory waves do.
"""

from numbers import Integral

import numpy as np

from ._rr_model import _window_medians

__all__ = ["fibrillation_evidence"]

# The P-wave segment ends this long before the R peak: past the P wave, before the QRS.
P_SEGMENT_END = 0.07
# The shortest P-wave segment that says anything (seconds).
P_SEGMENT_MIN = 0.08
_LAGS = (1, 2, 3)


def p_segment_steps(*, before, sampling_rate):
    """Steps of a beat window (from its start) that hold the P wave, or 0 if too few.

    Windows from 0.15 s before the R peak on hold enough at any rate (the
    durations are rounded to steps alike).
    """
    steps = round(before * sampling_rate) - round(P_SEGMENT_END * sampling_rate)
    return steps if steps >= max(2, round(P_SEGMENT_MIN * sampling_rate)) else 0


def fibrillation_evidence(pre_rr, windows, runs, *, p_steps, context=16, causal=False):
    """Irregularity of the rhythm and coherence of the P waves around each beat.

    Parameters
    ----------
    pre_rr : ndarray of shape (n_beats,)
        Each beat's previous RR interval, in any unit (ratios to the record's
        mean RR, as the beat tables' ``pre_record``, will do: only ratios
        between them count).
    windows : ndarray of shape (n_beats, n_steps)
        Each beat's signal window, the R peak at the same step of every one
        (a beat table's first signal).
    runs : list of slice
        The runs of consecutive beats of a record, as ``slice(start, stop)``:
        no window reaches across one's ends.
    p_steps : int
        Steps of each window, from its start, that hold the P wave and end
        before the QRS, at least 2 (:class:`ArrhythmiaTagger` reads its
        windows' steps up to 70 ms before the R peak).
    context : int, default=16
        Beats on either side of each beat, at least 3 (the longest lag).
    causal : bool, default=False
        Read each beat's window as the ``2 * context + 1`` beats of the run
        up to it instead (fewer near the run's start), so that its evidence
        never changes as later beats arrive. Lags longer than the beats
        before it in the run are left out (0 for the run's first beat).

    Returns
    -------
    irregularity : ndarray of float64 of shape (n_beats,)
        The smallest, over lags of 1, 2 and 3 beats, of the median absolute
        change of the previous RR at the window's beats from the beat that
        many before (in the run, so possibly before the window), over the
        window's median previous RR; lags as long as the run are left out (0
        for a run of one beat).
    coherence : ndarray of float64 of shape (n_beats,)
        The P-wave coherence, in [0, 1] (1 for a run of one beat, and 0 for
        segments that are flat).

    Examples
    --------
    A steady rhythm with an atrial premature beat every other beat
    (bigeminy), then a random one; P waves on every beat of the first,
    noise in the second:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pre = np.concatenate([np.tile([0.7, 1.3], 20), rng.uniform(0.6, 1.4, 40)])
    >>> t = np.linspace(0, 1, 20)
    >>> p_wave = np.exp(-((t - 0.5) ** 2) / 0.02)
    >>> windows = np.vstack([np.tile(p_wave, (40, 1)), rng.normal(size=(40, 20))])
    >>> irregularity, coherence = fibrillation_evidence(
    ...     pre, windows, [slice(0, 80)], p_steps=20)
    >>> irregularity[[10, 70]].round(2), coherence[[10, 70]].round(2)
    (array([0.  , 0.19]), array([1.  , 0.03]))
    """
    pre_rr = np.asarray(pre_rr, dtype=np.float64)
    windows = np.asarray(windows, dtype=np.float64)
    if pre_rr.ndim != 1 or windows.ndim != 2 or len(windows) != len(pre_rr):
        raise ValueError(
            "pre_rr must be 1-D and windows 2-D, one row per beat; got shapes "
            f"{pre_rr.shape} and {windows.shape}."
        )
    for name, value, low, high in (
        ("p_steps", p_steps, 2, windows.shape[1]),
        ("context", context, max(_LAGS), None),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, Integral)
            or value < low
            or (high is not None and value > high)
        ):
            bounds = f"within [{low}, {high}]" if high is not None else f"at least {low}"
            raise ValueError(f"{name} must be an integer {bounds}, got {value!r}.")
    if any(
        not isinstance(rows, slice)
        or not 0 <= (rows.start or 0) <= (rows.stop or 0) <= len(pre_rr)
        for rows in runs
    ):
        raise ValueError(f"runs must be slices (start, stop) within the {len(pre_rr)} beats.")
    segments = windows[:, :p_steps] - windows[:, :p_steps].mean(axis=1, keepdims=True)
    irregularity = np.zeros(len(pre_rr))
    coherence = np.ones(len(pre_rr))
    for rows in runs:
        rr = pre_rr[rows]
        if len(rr) < 2:
            continue
        reference = _window_medians(rr, context, causal=causal)
        changes = []
        for lag in _LAGS:
            if lag >= len(rr):
                break  # no beat of the run has one that many before it
            change = np.full(len(rr), np.nan)
            change[lag:] = np.abs(rr[lag:] - rr[:-lag])
            # With context >= the lag, every window around a beat holds one of
            # these changes; a causal window of one of the first `lag` beats
            # holds none (NaN), which fmin passes over.
            changes.append(_window_medians(change, context, causal=causal))
        smallest = np.fmin.reduce(np.asarray(changes), axis=0)
        irregularity[rows] = np.nan_to_num(smallest, nan=0.0) / reference
        coherence[rows] = _coherence(segments[rows], context, causal=causal)
    return irregularity, coherence


def _coherence(segments, context, *, causal=False):
    """Energy of each window's mean segment over the mean energy of its segments."""
    n = len(segments)
    sums = np.concatenate([np.zeros((1, segments.shape[1])), np.cumsum(segments, axis=0)])
    energies = np.concatenate([[0.0], np.cumsum((segments**2).sum(axis=1))])
    ahead = 0 if causal else context
    first = np.maximum(np.arange(n) - 2 * context + ahead, 0)
    stop = np.minimum(np.arange(n) + ahead + 1, n)
    count = (stop - first)[:, None]
    mean = (sums[stop] - sums[first]) / count
    energy = (energies[stop] - energies[first]) / count[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(energy > 0, (mean**2).sum(axis=1) / energy, 0.0)
