"""Beats of many records at once, read in parallel, with the failures kept aside."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._beats import extract_beats
from ._records import PACED_RECORDS, RecordError, list_records, read_record

__all__ = ["load_beats"]


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
    lead : str, default="MLII"
        Lead to read, by name.
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
        Passed to :func:`~sklstm.ecg.extract_beats` (window, filters...).

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
            record = read_record(data_dir / name, lead=lead)
            return extract_beats(record, r_peaks=r_peaks, **extract_params)
        except (RecordError, ValueError) as exc:
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
