"""Where the ECG tests find MIT-BIH records (``$SKLSTM_DATA/mitdb``), and longer records."""

import pytest
from _data import DATA

MITDB = DATA / "mitdb"

requires_mitdb = pytest.mark.skipif(
    not (MITDB / "101.hea").is_file(), reason=f"MIT-BIH records not found in {MITDB}"
)


def concatenate_records(names, directory, name):
    """Write one long record of the named records end to end; returns its path."""
    from benchmarks.memory import concatenate_records

    concatenate_records(MITDB, names, directory, name)
    return directory / name
