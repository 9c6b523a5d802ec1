"""What the RR intervals alone say of a beat: a linear model that carries across patients.

Whether an ectopic beat is supraventricular shows mostly in the rhythm: how
early it comes for this heart, how long the pause after it is, and how
irregular the rhythm around it is anyway (in atrial fibrillation earliness
means little), against the beats around it (``run_context``). A linear model
of those few numbers cannot learn a patient's
beat shapes, which is what the networks overfit to; in record-grouped
cross-validation on DS1 averaging it with them found more of new patients'
S beats at a higher positive predictivity (see the ECG application's
documentation). :class:`~sklstm.ecg.ArrhythmiaTagger` fits it with
``rr_model="logistic"``.
"""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

# The table's columns the rhythm's irregularity is computed from, when the
# table has no "irregularity" column of its own.
IRREGULARITY_FROM = ("pre_record", "pre_local")

# The columns the rhythm around a beat is read from (with a ``context``), and
# those a causal model reads it from.
CONTEXT_FROM = ("pre_record", "post_record")
PAST_CONTEXT_FROM = ("pre_record",)

# Added to the context features' irregularity and spread (fractions of the
# reference RR), so that a perfectly regular rhythm gives finite features.
_IRREGULARITY_FLOOR = 1e-3
_SPREAD_FLOOR = 0.02
# Windows whose medians are taken at once (bounds the temporaries).
_WINDOW_BLOCK = 4096


def run_irregularity(pre_record, pre_local, runs, *, local):
    """The ``irregularity`` RR feature of each beat, from two of the table's ratios.

    Within a run of consecutive beats, ``pre_record`` (the previous RR over the
    record's mean RR) changes as the previous RR does, and ``pre_record /
    pre_local`` is the local mean RR over the record's: so the mean absolute
    change of the previous RR over the ``local`` beats before each one, over
    its local mean RR, is :func:`~sklstm.ecg.rr_features`' last column. A run
    that starts at the record's first beat gets exactly those values; one
    that starts later lacks the beats before it, and its first ``local + 1``
    beats get the irregularity of the beats the run has (0 for its first two).
    Read whole records (or put ``"irregularity"`` in the table's RR features)
    for the exact values (of tables that are not causal: a causal table's
    ``pre_record`` reads each beat against its own trailing mean RR, which
    moves a little from beat to beat).

    Parameters
    ----------
    pre_record, pre_local : ndarray of shape (n_beats,)
        The table's ``pre_record`` and ``pre_local`` columns.
    runs : list of slice
        The runs of consecutive beats of a record.
    local : int
        Previous RR intervals in the local mean (the beat table's ``local``).

    Returns
    -------
    irregularity : ndarray of float64 of shape (n_beats,)
    """
    out = np.zeros(len(pre_record))
    for rows in runs:
        pre = np.asarray(pre_record[rows], dtype=np.float64)
        local_rr = pre / np.asarray(pre_local[rows], dtype=np.float64)
        idx = np.arange(len(pre))
        dsum = np.concatenate([[0.0, 0.0], np.cumsum(np.abs(np.diff(pre)))])
        before = np.maximum(idx - local, 0)
        count = np.maximum(idx - before, 1)
        out[rows] = (dsum[idx] - dsum[before]) / count / local_rr
    return out


def run_context(pre_record, post_record, runs, *, context, reference="mean", causal=False):
    """How a beat's RR intervals stand against the rhythm of the beats around it.

    Within a run of consecutive beats, each beat's window is the beats of the
    run at most ``context`` beats away from it (``2 * context + 1``, fewer
    near the run's ends, where the window is cut short rather than padded).
    The mean previous RR over the window is the beat's reference (by
    default): it follows the heart rate as a mean over the whole record
    cannot, and it stays the heart's own rate even where premature beats are
    most of the beats, because their pauses stay in it. A median, the
    alternative, ignores premature beats and pauses while they are under half
    of the window, but where they are the majority it *is* their RR, and they
    read as on time. Against the reference, per beat:

    - ``log(previous RR / reference)`` and ``log(next RR / reference)``:
      how early the beat comes and how long its pause is;
    - ``log(irregularity + 0.001)``: the irregularity is the median absolute
      change between successive previous RR in the window (from the run's
      second beat on), over the reference. High all along in atrial
      fibrillation; an isolated ectopic beat does not move it;
    - the previous and next RR minus the reference, over the median absolute
      deviation of the window's previous RR from it plus 2% of the reference:
      earliness in units of this stretch's own spread, large for a premature
      beat in a steady rhythm and small for one of atrial fibrillation's
      irregular beats, which a linear model of the first three alone cannot
      tell apart.

    The additions keep the features finite on a perfectly regular rhythm.
    The inputs are ratios to the record's mean RR, which cancels out (in a
    causal table, to the mean RR of the 127 beats up to each beat, which
    nearly does: it moves slowly within a window).

    With ``causal``, each beat's window is the ``2 * context + 1`` beats of
    the run up to it (fewer near the run's start), and the two columns of the
    next RR are left out: the beat's features never change as later beats
    arrive.

    Parameters
    ----------
    pre_record, post_record : ndarray of shape (n_beats,)
        The table's ``pre_record`` and ``post_record`` columns
        (``post_record`` is not read with ``causal``, and may be None).
    runs : list of slice
        The runs of consecutive beats of a record.
    context : int
        Beats on either side of each beat.
    reference : {"mean", "median"}, default="mean"
        The statistic of the window's previous RR that each beat is read
        against. ``"median"`` is the reference of models fitted before the
        mean replaced it.
    causal : bool, default=False
        Windows that end at each beat; no next RR.

    Returns
    -------
    features : ndarray of float64 of shape (n_beats, 5), or (n_beats, 3) with ``causal``
        The five columns above, in that order (with ``causal``, those of
        the previous RR and the irregularity).

    Examples
    --------
    >>> import numpy as np
    >>> pre = np.array([1.0] * 6 + [0.6, 1.4] + [1.0] * 4)
    >>> post = np.append(pre[1:], pre[-1])
    >>> features = run_context(pre, post, [slice(0, 12)], context=3)
    >>> features[6].round(2)  # the premature beat: early, steady rhythm around it
    array([ -0.51,   0.34,  -6.91, -20.  ,  20.  ])

    Where early beats are the majority (a pause, then three early beats), the
    median reads them as on time, the mean as early:

    >>> pre = np.tile([1.6, 0.7, 0.7, 0.7], 8)
    >>> post = np.append(pre[1:], pre[-1])
    >>> early = [slice(0, 32)]
    >>> float(run_context(pre, post, early, context=8, reference="median")[13, 0].round(2))
    0.0
    >>> float(run_context(pre, post, early, context=8)[13, 0].round(2))
    -0.26
    """
    if reference not in _REFERENCES:
        raise ValueError(f"reference must be 'mean' or 'median', got {reference!r}.")
    out = np.zeros((len(pre_record), 3 if causal else 5))
    for rows in runs:
        pre = np.asarray(pre_record[rows], dtype=np.float64)
        level = _REFERENCES[reference](pre, context, causal=causal)
        # The first beat's change is unknown (a run of one beat has none at all).
        change = np.concatenate([[np.nan], np.abs(np.diff(pre))]) if len(pre) > 1 else [0.0]
        irregularity = _window_medians(np.asarray(change), context, causal=causal) / level
        # A causal window of a run's first beat holds no change: read as regular.
        irregularity = np.nan_to_num(irregularity, nan=0.0)
        spread = _window_medians(pre, context, around=level, causal=causal) + _SPREAD_FLOOR * level
        if causal:
            columns = [np.log(pre / level), np.log(irregularity + _IRREGULARITY_FLOOR)]
            columns.append((pre - level) / spread)
        else:
            post = np.asarray(post_record[rows], dtype=np.float64)
            columns = [
                np.log(pre / level),
                np.log(post / level),
                np.log(irregularity + _IRREGULARITY_FLOOR),
                (pre - level) / spread,
                (post - level) / spread,
            ]
        out[rows] = np.column_stack(columns)
    return out


def _window_means(values, context, *, causal=False):
    """Mean of each window ``values[i - context : i + context + 1]`` cut to the array.

    With ``causal``, the window is ``values[i - 2 * context : i + 1]``.
    """
    values = np.asarray(values, dtype=np.float64)
    sums = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(len(values))
    ahead = 0 if causal else context
    lo = np.maximum(idx - 2 * context + ahead, 0)
    hi = np.minimum(idx + ahead + 1, len(values))
    return (sums[hi] - sums[lo]) / (hi - lo)


def _window_medians(values, context, *, around=None, causal=False):
    """Median of each window of ``values`` (``|values - around[i]|`` in window ``i``).

    Window ``i`` is ``values[i - context : i + context + 1]`` cut to the array
    (with ``causal``, ``values[i - 2 * context : i + 1]``); NaN values are
    left out of it. Each window holds at least one number. Computed a block
    of windows at a time (bounded temporaries).
    """
    pad = (2 * context, 0) if causal else context
    padded = np.pad(np.asarray(values, dtype=np.float64), pad, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * context + 1)
    counts = np.lib.stride_tricks.sliding_window_view(~np.isnan(padded), 2 * context + 1)
    counts = counts.sum(axis=1)
    out = np.empty(len(windows))
    for start in range(0, len(windows), _WINDOW_BLOCK):
        block = slice(start, start + _WINDOW_BLOCK)
        w = windows[block] if around is None else np.abs(windows[block] - around[block, None])
        w = np.sort(w, axis=1)  # NaN last
        rows, n = np.arange(len(w)), counts[block]
        out[block] = (w[rows, (n - 1) // 2] + w[rows, n // 2]) / 2
    return out


_REFERENCES = {"mean": _window_means, "median": _window_medians}


def rr_model_features(
    rr_columns, names, runs, *, local, context=None, reference="mean", causal=False
):
    """The RR model's inputs: the table's RR columns, the rhythm's irregularity and context.

    ``rr_columns`` holds the table's RR features, named ``names``; with
    ``context``, the columns of :func:`run_context` follow, read against
    ``reference`` (and ``causal`` or not).
    """
    names = list(names)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if "irregularity" in names:
            features = np.asarray(rr_columns, dtype=np.float64)
        else:
            pre_record, pre_local = (rr_columns[:, names.index(n)] for n in IRREGULARITY_FROM)
            irregularity = run_irregularity(pre_record, pre_local, runs, local=local)
            features = np.column_stack([rr_columns, irregularity])
        if context is not None:
            pre_record = rr_columns[:, names.index("pre_record")]
            post_record = None if causal else rr_columns[:, names.index("post_record")]
            context_features = run_context(
                pre_record, post_record, runs, context=context, reference=reference, causal=causal
            )
            features = np.column_stack([features, context_features])
    if not np.isfinite(features).all():
        raise ValueError(
            "The RR features of the beat table are not all finite (columns "
            f"{', '.join(names)}): read the table with load_beats or read_beats."
        )
    return features


def check_rr_names(names, *, context=None, causal=False):
    """Refuse RR features the model cannot compute its own features from."""
    names = list(names)
    missing = [n for n in IRREGULARITY_FROM if n not in names]
    if "irregularity" not in names and missing:
        raise ValueError(
            "rr_model='logistic' reads the rhythm's irregularity, computed from the RR "
            f"features {' and '.join(IRREGULARITY_FROM)} (or given as 'irregularity'); "
            f"rr={tuple(names)} lacks {' and '.join(missing)}. Add "
            f"{'them' if len(missing) > 1 else 'it'} to rr, or set rr_model=None."
        )
    needed = PAST_CONTEXT_FROM if causal else CONTEXT_FROM
    missing = [n for n in needed if n not in names]
    if context is not None and missing:
        raise ValueError(
            f"rr_context={context} reads the RR features {' and '.join(needed)}; "
            f"rr={tuple(names)} lacks {' and '.join(missing)}. Add "
            f"{'them' if len(missing) > 1 else 'it'} to rr, or set rr_context=None."
        )


def fit_rr_model(features, y, sample_weight):
    """A multinomial logistic regression on the standardized features.

    The scaler and the regression are fitted one after the other (not through
    ``Pipeline.fit``'s ``step__param``), so that ``sample_weight`` reaches the
    regression whatever scikit-learn's metadata-routing setting.
    """
    scaler = StandardScaler().fit(features)
    regression = LogisticRegression(max_iter=1000)
    regression.fit(scaler.transform(features), y, sample_weight=sample_weight)
    return make_pipeline(scaler, regression)
