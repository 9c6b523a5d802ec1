"""Where the tests find the real recordings: ``$SKLSTM_DATA``, else ``../shared/data``.

The path is made absolute (relative to the repository when it comes from the
default), so that links and subprocesses see the same folder from anywhere.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SKLSTM_DATA") or ROOT.parent / "shared" / "data").resolve()
