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


def resample_record(name, fs, directory, *, sig_names=None):
    """Write MIT-BIH record ``name`` resampled to ``fs`` Hz (both leads); returns its path.

    The signal is resampled with a polyphase anti-aliasing filter, the beat
    annotations moved to the nearest sample at the new rate. ``sig_names``
    renames the leads (other databases name them I, II, V1, or all "ECG").
    """
    from fractions import Fraction

    import numpy as np
    import wfdb
    from scipy.signal import resample_poly

    from sklstm.ecg import AAMI_SYMBOLS

    rec = wfdb.rdrecord(str(MITDB / name))
    ann = wfdb.rdann(str(MITDB / name), "atr")
    ratio = Fraction(fs, int(rec.fs))
    signal = resample_poly(rec.p_signal, ratio.numerator, ratio.denominator, axis=0)
    beat = np.isin(ann.symbol, list(AAMI_SYMBOLS))
    samples = np.round(ann.sample[beat] * float(ratio)).astype(np.int64)
    samples = np.clip(samples, 0, len(signal) - 1)
    out = f"{name}_{fs}"
    placeholders = [f"lead{k}" for k in range(signal.shape[1])]
    wfdb.wrsamp(
        out,
        fs=fs,
        units=list(rec.units),
        sig_name=placeholders,
        p_signal=signal,
        fmt=["16"] * signal.shape[1],
        write_dir=str(directory),
    )
    # wfdb writes unique names only; headers of other databases repeat them.
    header = directory / f"{out}.hea"
    lines = header.read_text().splitlines()
    for k, lead in enumerate(sig_names or rec.sig_name):
        assert lines[k + 1].endswith(f" {placeholders[k]}")
        lines[k + 1] = lines[k + 1][: -len(placeholders[k])] + lead
    header.write_text("\n".join(lines) + "\n")
    symbols = [s for s, b in zip(ann.symbol, beat) if b]
    wfdb.wrann(out, "atr", samples, symbol=symbols, write_dir=str(directory))
    return directory / out
