"""Where the ECG tests find MIT-BIH records: ``$SKLSTM_DATA/mitdb``."""

import os
from pathlib import Path

import pytest

MITDB = Path(os.environ.get("SKLSTM_DATA", "../shared/data")) / "mitdb"

requires_mitdb = pytest.mark.skipif(
    not (MITDB / "101.hea").is_file(), reason=f"MIT-BIH records not found in {MITDB}"
)
