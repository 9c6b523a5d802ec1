"""What the RR intervals alone say of a beat: a linear model that carries across patients.

Whether an ectopic beat is supraventricular shows mostly in the rhythm: how
early it comes for this heart, how long the pause after it is, and how
irregular the rhythm around it is anyway (in atrial fibrillation earliness
means little). A linear model of those few ratios cannot learn a patient's
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
    for the exact values.

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


def rr_model_features(rr_columns, names, runs, *, local):
    """The RR model's inputs: the table's RR columns and the rhythm's irregularity.

    ``rr_columns`` holds the table's RR features, named ``names``.
    """
    names = list(names)
    if "irregularity" in names:
        features = np.asarray(rr_columns, dtype=np.float64)
    else:
        pre_record, pre_local = (rr_columns[:, names.index(n)] for n in IRREGULARITY_FROM)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            irregularity = run_irregularity(pre_record, pre_local, runs, local=local)
        features = np.column_stack([rr_columns, irregularity])
    if not np.isfinite(features).all():
        raise ValueError(
            "The RR features of the beat table are not all finite (columns "
            f"{', '.join(names)}): read the table with load_beats or read_beats."
        )
    return features


def check_rr_names(names):
    """Refuse RR features the model cannot compute the irregularity from."""
    names = list(names)
    missing = [n for n in IRREGULARITY_FROM if n not in names]
    if "irregularity" not in names and missing:
        raise ValueError(
            "rr_model='logistic' reads the rhythm's irregularity, computed from the RR "
            f"features {' and '.join(IRREGULARITY_FROM)} (or given as 'irregularity'); "
            f"rr={tuple(names)} lacks {' and '.join(missing)}. Add "
            f"{'them' if len(missing) > 1 else 'it'} to rr, or set rr_model=None."
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
