"""The MIT-BIH Arrhythmia Database, read from the data home or fetched from PhysioNet."""

from pathlib import Path

from sklearn.utils import Bunch

from ._home import get_data_home

__all__ = ["fetch_mitdb"]

_FILES = ("hea", "dat", "atr")


def _missing(folder, names):
    return [n for n in names if not all((folder / f"{n}.{e}").is_file() for e in _FILES)]


def fetch_mitdb(records=None, *, data_home=None, download_if_missing=True):
    """Locate (and if needed download) records of the MIT-BIH Arrhythmia Database.

    Parameters
    ----------
    records : list of str, default=None
        Record names. None means every record already in the folder, or when
        it has none, the 44 non-paced records (DS1 and DS2).
    data_home : str or path-like, default=None
        Data home (see :func:`~sklstm.datasets.get_data_home`); the records
        live in its ``mitdb/`` folder.
    download_if_missing : bool, default=True
        Download missing records with ``wfdb.dl_database`` from PhysioNet;
        when False, or offline, a missing record raises an error that says
        where its files must go.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``path``: the ``mitdb/`` folder (pass it to
        :func:`~sklstm.ecg.read_record` or the pipeline's ``--data-dir``);
        ``records``: list of the record names.

    Raises
    ------
    OSError
        When records are missing and cannot be downloaded.
    """
    from ..ecg import DS1, DS2, list_records

    folder = get_data_home(data_home) / "mitdb"
    if records is None:
        present = list_records(folder) if folder.is_dir() else []
        names = present or sorted(DS1 + DS2)
    else:
        names = [str(r) for r in records]
    missing = _missing(folder, names)
    if missing and download_if_missing:
        try:
            import wfdb

            folder.mkdir(parents=True, exist_ok=True)
            wfdb.dl_database("mitdb", str(folder), records=missing, annotators=["atr"])
        except Exception as exc:  # wfdb raises various network errors
            raise OSError(
                _where(folder, missing, f"download from PhysioNet failed: {exc}")
            ) from exc
        missing = _missing(folder, names)
    if missing:
        raise OSError(_where(folder, missing, "download disabled or incomplete"))
    return Bunch(path=Path(folder), records=names)


def _where(folder, missing, why):
    shown = " ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
    return (
        f"MIT-BIH records missing ({why}): {shown}. Put their .hea, .dat and .atr files "
        f"in {folder} (set SKLSTM_DATA or data_home to use another data home)."
    )
