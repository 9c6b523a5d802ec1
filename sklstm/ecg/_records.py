"""Reading WFDB records and their beat annotations, and the AAMI beat classes."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "AAMI_CLASSES",
    "AAMI_SYMBOLS",
    "DS1",
    "DS2",
    "PACED_RECORDS",
    "Record",
    "RecordError",
    "aami_classes",
    "list_records",
    "read_record",
    "read_signal",
]

#: The five AAMI (ANSI/AAMI EC57) heartbeat classes, in reporting order.
AAMI_CLASSES = ("N", "S", "V", "F", "Q")

#: MIT-BIH beat symbol -> AAMI class. Symbols absent here are not beats.
AAMI_SYMBOLS = {
    **dict.fromkeys("NLRej", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}

#: Inter-patient training records of de Chazal et al. (2004).
DS1 = (
    "101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 230"
).split()

#: Inter-patient test records of de Chazal et al. (2004).
DS2 = (
    "100 103 105 111 113 117 121 123 200 202 210 212 213 214 219 221 222 228 231 232 233 234"
).split()

#: Records with a pacemaker, excluded from AAMI evaluations.
PACED_RECORDS = ("102", "104", "107", "217")

# Ventricular flutter/fibrillation episodes: EC57 counts no detections inside.
_VF_ON, _VF_OFF = "[", "]"


class RecordError(ValueError):
    """A record that cannot be read as asked; the message names the file."""


@dataclass(frozen=True)
class Record:
    """One lead of a WFDB record with its reference beats.

    Parameters
    ----------
    name : str
        Record name (the file stem), e.g. ``"101"``.
    signal : ndarray of float64 of shape (n_samples,)
        The lead, in physical units (mV for MIT-BIH).
    fs : float
        Sampling frequency in Hz.
    lead : str
        Name of the lead read.
    beat_samples : ndarray of int64 of shape (n_beats,)
        Sample of each reference beat annotation (beats only).
    beat_symbols : ndarray of str of shape (n_beats,)
        Their MIT-BIH symbols.
    vf_episodes : ndarray of int64 of shape (n_episodes, 2)
        Start and end samples of ventricular flutter/fibrillation episodes.
    """

    name: str
    signal: np.ndarray
    fs: float
    lead: str
    beat_samples: np.ndarray
    beat_symbols: np.ndarray
    vf_episodes: np.ndarray

    @property
    def beat_classes(self):
        """AAMI class of each reference beat, ndarray of str of shape (n_beats,)."""
        return aami_classes(self.beat_symbols)


def aami_classes(symbols):
    """Map MIT-BIH beat symbols to AAMI classes.

    Parameters
    ----------
    symbols : array-like of str of shape (n,)
        Annotation symbols.

    Returns
    -------
    classes : ndarray of str of shape (n,)
        ``"N"``, ``"S"``, ``"V"``, ``"F"``, ``"Q"``, or ``""`` for symbols that
        are not beats (rhythm changes, noise, artifacts, flutter waves...).

    Examples
    --------
    >>> aami_classes(["N", "A", "V", "+", "/", "j"]).tolist()
    ['N', 'S', 'V', '', 'Q', 'N']
    """
    return np.array([AAMI_SYMBOLS.get(s, "") for s in symbols], dtype="<U1")


def _vf_episodes(samples, symbols, n_samples):
    episodes, start = [], None
    for sample, symbol in zip(samples, symbols):
        if symbol == _VF_ON and start is None:
            start = sample
        elif symbol == _VF_OFF and start is not None:
            episodes.append((start, sample))
            start = None
    if start is not None:
        episodes.append((start, n_samples))
    return np.array(episodes, dtype=np.int64).reshape(-1, 2)


def _open_lead(path, lead):
    """Check a record's files for one lead; its header, channel and signal file.

    Everything that can be checked without reading the samples is: the header
    exists and parses, names the lead, and its signal file exists and is as
    long as the header says.
    """
    import wfdb  # the optional "ecg" dependency, needed only here

    path = Path(path)
    header = path.with_suffix(".hea")
    if not header.is_file():
        raise RecordError(f"{header}: header file not found.")
    try:
        head = wfdb.rdheader(str(path))
    except Exception as exc:
        raise RecordError(f"{header}: unreadable header ({exc}).") from None
    channel = _lead_channel(header, list(head.sig_name or []), lead)
    dat = path.parent / head.file_name[channel]
    if not dat.is_file():
        raise RecordError(f"{dat}: signal file named by {header.name} not found.")
    expected = _expected_bytes(head, channel)
    if expected is not None and dat.stat().st_size < expected:
        raise RecordError(
            f"{dat}: truncated signal file ({dat.stat().st_size} bytes, the header "
            f"describes {expected})."
        )
    if not head.fs or not np.isfinite(head.fs) or head.fs <= 0:
        raise RecordError(f"{header}: invalid sampling frequency {head.fs!r}.")
    return head, channel, dat


def _lead_channel(header, names, lead):
    """The channel of ``lead``: a name, or a 0-based index (an int, or a string of digits).

    A name is looked up first, so a lead named "1" is found by its name.
    """
    listing = ", ".join(f"{i}: {name}" for i, name in enumerate(names)) or "none"
    if isinstance(lead, str):
        count = names.count(lead)
        if count == 1:
            return names.index(lead)
        if count > 1:
            raise RecordError(
                f"{header}: {count} leads are named {lead!r}; choose one by its 0-based "
                f"index (leads: {listing})."
            )
        if not (lead.isascii() and lead.isdecimal()):
            raise RecordError(f"{header}: no lead named {lead!r} (leads: {listing}).")
    index = int(lead)
    if not 0 <= index < len(names):
        raise RecordError(
            f"{header}: no lead {index}; the record has {len(names)} (leads: {listing})."
        )
    return index


def _read_lead(path, head, channel, dat, start=0, stop=None):
    """Samples ``[start, stop)`` of one lead, in physical units (float64)."""
    import wfdb

    try:
        rec = wfdb.rdrecord(
            str(path),
            sampfrom=int(start),
            sampto=None if stop is None else int(stop),
            channels=[channel],
            physical=False,
        )
    except Exception as exc:
        raise RecordError(f"{dat}: unreadable signal ({exc}).") from None
    if rec.d_signal is None or rec.d_signal.shape[0] == 0:
        raise RecordError(f"{dat}: the record has no samples.")
    if not rec.adc_gain[0]:
        lead = head.sig_name[channel]
        raise RecordError(f"{path.with_suffix('.hea')}: zero ADC gain for lead {lead}.")
    # Physical units from the digital samples, as wfdb does, in one pass.
    return (rec.d_signal[:, 0] - rec.baseline[0]) / rec.adc_gain[0]


def read_signal(path, *, lead="MLII", start=0, stop=None):
    """Read a stretch of one lead of a WFDB record, without its annotations.

    Only the samples asked for are read from the signal file, so a stretch of
    a 24-hour record costs what the stretch does.

    Parameters
    ----------
    path : str or path-like
        Record path without extension (``DIR/101`` for ``DIR/101.hea``).
    lead : str or int, default="MLII"
        Name of the lead, as in the header, or its 0-based index (for records
        whose leads have no names, or the same one).
    start : int, default=0
        First sample to read.
    stop : int or None, default=None
        Sample after the last one to read; None reads to the end.

    Returns
    -------
    signal : ndarray of float64 of shape (stop - start,)
        The lead in physical units (mV for MIT-BIH).
    fs : float
        Sampling frequency in Hz.

    Raises
    ------
    RecordError
        As :func:`read_record`, naming the file; also when ``start`` and
        ``stop`` do not describe a non-empty stretch of the record.
    """
    path = Path(path)
    head, channel, dat = _open_lead(path, lead)
    n = head.sig_len
    whole = None
    if not n:  # the header gives no length: the lead is read whole to learn it
        whole = _read_lead(path, head, channel, dat)
        n = len(whole)
    stop = n if stop is None else stop
    if not (0 <= start < stop <= n):
        raise RecordError(
            f"{path.with_suffix('.hea')}: samples [{start}, {stop}) are not a stretch "
            f"of the record's {n} samples."
        )
    if whole is not None:
        return whole[start:stop], float(head.fs)
    return _read_lead(path, head, channel, dat, start, stop), float(head.fs)


def _read_annotations(path, annotator, n_samples):
    """Beat samples and symbols, and flutter episodes, of one annotation file."""
    import wfdb

    ann_file = path.with_name(f"{path.name}.{annotator}")
    if not ann_file.is_file():
        raise RecordError(f"{ann_file}: annotation file not found.")
    try:
        ann = wfdb.rdann(str(path), annotator)
    except Exception as exc:
        raise RecordError(f"{ann_file}: unreadable annotations ({exc}).") from None
    all_samples = np.asarray(ann.sample, dtype=np.int64)
    all_symbols = np.asarray(ann.symbol if ann.symbol is not None else [], dtype=str)
    is_beat = aami_classes(all_symbols) != ""
    samples, symbols = all_samples[is_beat], all_symbols[is_beat].astype("<U1")
    outside = (samples < 0) | (samples >= n_samples)
    if outside.any():
        raise RecordError(
            f"{ann_file}: beat annotation at sample {samples[outside][0]}, outside the "
            f"record's {n_samples} samples."
        )
    if np.any(np.diff(samples) <= 0):
        raise RecordError(f"{ann_file}: beat annotations are not in increasing sample order.")
    return samples, symbols, _vf_episodes(all_samples, all_symbols, n_samples)


def read_record(path, *, lead="MLII", annotator="atr"):
    """Read one lead of a WFDB record and its reference beat annotations.

    Parameters
    ----------
    path : str or path-like
        Record path without extension (``DIR/101`` for ``DIR/101.hea``).
    lead : str or int, default="MLII"
        Name of the lead, as in the header, or its 0-based index (an int or a
        string of digits; a name is looked up first). Choose by name where the
        names are unique: record 114 stores MLII second.
    annotator : str or None, default="atr"
        Extension of the reference annotation file; None reads no annotations
        (the record then has no beats, e.g. to annotate a new recording).

    Returns
    -------
    record : Record
        The lead's signal in physical units with its rate, the annotated beats
        (samples and symbols; ``beat_classes`` maps them to AAMI classes) and
        the ventricular flutter episodes.

    Raises
    ------
    RecordError
        When the header or annotation file is missing or unreadable, the
        signal file is missing or shorter than the header says, the lead is
        absent, or a beat annotation lies outside the signal. The message
        names the file.
    """
    path = Path(path)
    head, channel, dat = _open_lead(path, lead)
    signal = _read_lead(path, head, channel, dat)
    samples = np.zeros(0, dtype=np.int64)
    symbols = np.zeros(0, dtype="<U1")
    vf = np.zeros((0, 2), dtype=np.int64)
    if annotator is not None:
        samples, symbols, vf = _read_annotations(path, annotator, len(signal))
    return Record(
        name=path.name,
        signal=signal,
        fs=float(head.fs),
        lead=head.sig_name[channel],
        beat_samples=samples,
        beat_symbols=symbols,
        vf_episodes=vf,
    )


def _expected_bytes(head, channel):
    """Bytes the signal file of ``channel`` needs, for the common formats, or None."""
    file_name = head.file_name[channel]
    n_signals = sum(1 for f in head.file_name if f == file_name)
    bits = {"212": 12, "16": 16, "8": 8, "80": 8, "32": 32, "61": 16, "160": 16}
    fmt = str(head.fmt[channel])
    if fmt not in bits or not head.sig_len:
        return None
    offset = (head.byte_offset or [0] * len(head.file_name))[channel] or 0
    return offset + (head.sig_len * n_signals * bits[fmt] + 7) // 8


def list_records(data_dir):
    """Names of the records in a folder: its ``RECORDS`` file, else every ``.hea``.

    Parameters
    ----------
    data_dir : str or path-like
        Folder of a WFDB database.

    Returns
    -------
    names : list of str
        Record names, in the ``RECORDS`` order or sorted.
    """
    data_dir = Path(data_dir)
    listing = data_dir / "RECORDS"
    if listing.is_file():
        return [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    return sorted(p.stem for p in data_dir.glob("*.hea"))
