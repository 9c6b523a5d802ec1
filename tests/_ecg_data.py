"""Where the ECG tests find MIT-BIH records: ``$SKLSTM_DATA/mitdb``."""

import pytest
from _data import DATA

MITDB = DATA / "mitdb"

requires_mitdb = pytest.mark.skipif(
    not (MITDB / "101.hea").is_file(), reason=f"MIT-BIH records not found in {MITDB}"
)
