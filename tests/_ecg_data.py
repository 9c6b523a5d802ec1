"""Where the ECG tests find MIT-BIH records (``$SKLSTM_DATA/mitdb``), and longer records."""

import numpy as np
import pytest
from _data import DATA

MITDB = DATA / "mitdb"

requires_mitdb = pytest.mark.skipif(
    not (MITDB / "101.hea").is_file(), reason=f"MIT-BIH records not found in {MITDB}"
)


def concatenate_records(names, directory, name):
    """Write one long record: the MLII lead of the named records, one after another.

    Its beat annotations (``.atr``, shifted) come along, so that the long
    record can be evaluated as well as annotated. Returns the record path.
    """
    import wfdb

    parts, samples, symbols, offset = [], [], [], 0
    for record in names:
        rec = wfdb.rdrecord(str(MITDB / record), channel_names=["MLII"], physical=False)
        if (rec.adc_gain[0], rec.baseline[0], rec.fs) != (200.0, 1024, 360):
            raise ValueError(f"record {record} has another gain, baseline or rate")
        ann = wfdb.rdann(str(MITDB / record), "atr")
        parts.append(rec.d_signal[:, 0])
        beat = np.isin(ann.symbol, list("NLRejAaJSVEF/fQ"))
        samples.append(ann.sample[beat] + offset)
        symbols += [s for s, b in zip(ann.symbol, beat) if b]
        offset += rec.sig_len
    signal = np.concatenate(parts)[:, None]
    wfdb.wrsamp(
        name,
        fs=360,
        units=["mV"],
        sig_name=["MLII"],
        d_signal=signal,
        fmt=["212"],
        adc_gain=[200.0],
        baseline=[1024],
        write_dir=str(directory),
    )
    wfdb.wrann(name, "atr", np.concatenate(samples), symbol=symbols, write_dir=str(directory))
    return directory / name
