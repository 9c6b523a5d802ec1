"""Reading audio: a path or an in-memory waveform becomes a mono float32 array at one rate.

Files are read with soundfile (libsndfile), which decodes a short WAV in tens of
microseconds; ``librosa.load`` would route through its generic loader and
resampler even when the rate already matches. Resampling, when the rate differs,
uses soxr's high-quality mode: the resampler ``librosa.load`` itself uses by
default (``res_type="soxr_hq"``), called directly to skip librosa's import.
"""

import os
import struct
from numbers import Real
from pathlib import Path

import numpy as np

__all__ = ["AudioFileError", "load_audio", "resample"]

# Most samples a resampled waveform may have: soxr addresses its output with
# 32-bit lengths, and a rate ratio that would go beyond is a mistake (a rate
# in kHz for one in Hz, a speed factor of 1e-9), not a recording.
_MAX_SAMPLES = 2**31 - 1


class AudioFileError(ValueError):
    """An audio file that cannot be used: missing, empty, truncated, not audio, no samples,
    samples that are not finite numbers, or too short to leave a sample at the rate asked.

    The message starts with the file's path. A ``ValueError``, so that
    scikit-learn code handling bad input treats it as such.
    """


def _is_path(source):
    return isinstance(source, (str, os.PathLike))


def _declared_wav_frames(path):
    """Frames a RIFF/WAVE header declares, or None when not a WAV or not declared.

    libsndfile reads a WAV cut short by a crashed writer or a partial copy
    without complaint, returning only the samples present; comparing with the
    size the header declares is what tells a short recording from a truncated one.
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"fmt ":
                fmt = f.read(size)
                if len(fmt) >= 14:
                    block_align = struct.unpack("<H", fmt[12:14])[0]
                f.seek(size - len(fmt) + (size & 1), os.SEEK_CUR)
            elif chunk_id == b"data":
                # Streaming writers leave 0 or 0xFFFFFFFF: "size unknown".
                if not block_align or size in (0, 0xFFFFFFFF):
                    return None
                return size // block_align
            else:
                f.seek(size + (size & 1), os.SEEK_CUR)


def _read_file(path, dtype):
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file.")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: the file is empty (0 bytes).")
    try:
        with sf.SoundFile(path) as f:
            rate = f.samplerate
            data = f.read(dtype=dtype, always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioFileError(f"{path}: not a readable audio file ({exc}).") from None
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: the file holds no samples.")
    declared = _declared_wav_frames(path)
    if declared is not None and declared > data.shape[0]:
        raise AudioFileError(
            f"{path}: the file is truncated: its header declares {declared} samples "
            f"but only {data.shape[0]} are present."
        )
    if not np.isfinite(data).all():
        # Float WAV/FLAC files can hold them; they would poison every feature.
        raise AudioFileError(f"{path}: the file holds NaN or infinite samples.")
    return data.mean(axis=1, dtype=dtype) if data.shape[1] > 1 else data[:, 0], rate


# Smallest ratio of two sampling rates resample accepts (and the inverse, the largest).
_MIN_RATIO = 1e-6


def _check_waveform(y, name="y"):
    """A mono waveform as a finite 1D float32 array (possibly empty); else a clear error."""
    y = np.asarray(y)
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a waveform of numbers, got dtype {y.dtype}.")
    if y.ndim != 1:
        raise ValueError(f"{name} must be a mono waveform of shape (n,), got shape {y.shape}.")
    with np.errstate(over="ignore"):
        y = y.astype(np.float32, copy=False)
    if not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinity (or values beyond the float32 range).")
    return y


def _check_rate(value, name):
    """A rate or factor: a finite positive real number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a positive number, got {value!r}.")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}.")
    return float(value)


def _check_length(n_samples, what):
    if n_samples > _MAX_SAMPLES:
        raise ValueError(
            f"{what} would have {n_samples:.3g} samples, more than the {_MAX_SAMPLES} "
            "a waveform may have: check the rates, factors or shifts."
        )


def resample(y, *, orig_sr, target_sr):
    """Resample a waveform with soxr's high-quality mode (librosa's default resampler).

    Parameters
    ----------
    y : ndarray [shape=(n,)]
        Mono waveform.
    orig_sr : float
        Its sampling rate, in Hz.
    target_sr : float
        The rate wanted, in Hz.

    Returns
    -------
    y_resampled : ndarray of float32 [shape=(floor(n * target_sr / orig_sr + 0.5),)]
        The waveform at ``target_sr``; ``y`` itself as float32 when the rates agree.

    Raises
    ------
    ValueError
        For a waveform that is not 1D or holds NaN or infinity, a rate that is
        not a finite positive number, rates more than a factor of ``1e6``
        apart, or an output of more than ``2**31 - 1`` samples.
    TypeError
        For a waveform that does not hold numbers, or a rate that is not a number.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import resample
    >>> resample(np.zeros(16000, dtype=np.float32), orig_sr=16000, target_sr=8000).shape
    (8000,)
    """
    y = _check_waveform(y)
    orig_sr = _check_rate(orig_sr, "orig_sr")
    target_sr = _check_rate(target_sr, "target_sr")
    if orig_sr == target_sr:
        return y
    ratio = target_sr / orig_sr
    if not _MIN_RATIO <= ratio <= 1 / _MIN_RATIO:
        # soxr hangs on ratios around 1e-10; no audio is resampled that far.
        raise ValueError(
            f"Resampling from {orig_sr:g} Hz to {target_sr:g} Hz is a factor of {ratio:.3g}, "
            f"beyond the {_MIN_RATIO:g} to {1 / _MIN_RATIO:g} that audio rates span: check them."
        )
    _check_length(np.ceil(len(y) * ratio), "The resampled waveform")
    import soxr

    return np.asarray(soxr.resample(y, orig_sr, target_sr, quality="HQ"), dtype=np.float32)


def load_audio(source, *, sr=None, orig_sr=None, dtype=np.float32):
    """Load a mono waveform from a file or an array, at the rate ``sr``.

    Parameters
    ----------
    source : str, path-like or array-like [shape=(n,) or (n_channels, n)]
        A file soundfile can read (WAV, FLAC, OGG, ...), or a waveform. An array
        of two dimensions is channels first, as in librosa; channels are averaged.
        Integer arrays are converted to floats as they are, not rescaled.
    sr : float, default=None
        Rate of the returned waveform, in Hz. None keeps the source's rate.
    orig_sr : float, default=None
        Rate of an in-memory waveform, in Hz. None means it is already at
        ``sr``. Ignored for files, whose header gives it.
    dtype : numpy dtype, default=np.float32
        Floating-point type of the result.

    Returns
    -------
    y : ndarray [shape=(n,)]
        The mono waveform.
    sr : float
        Its rate: ``sr`` when given, else the file's (or ``orig_sr``).

    Raises
    ------
    AudioFileError
        For a missing, empty (0 bytes), unreadable (not audio, header cut
        short), truncated (fewer samples than its WAV header declares) or
        sample-less file, one holding NaN or infinite samples, or one too
        short to leave a sample once resampled; the message starts with the
        file's path.
    ValueError
        For an in-memory waveform that is empty, not 1D/2D, not numbers, or
        not finite (in its dtype or in ``dtype``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm.audio import load_audio
    >>> y, rate = load_audio(np.ones((2, 16000)), sr=8000, orig_sr=16000)
    >>> y.shape, rate, y.dtype
    ((8000,), 8000, dtype('float32'))
    """
    if _is_path(source):
        y, rate = _read_file(source, dtype)
    else:
        y = np.asarray(source)
        if y.dtype.kind not in "fiub":
            raise ValueError(f"A waveform must hold numbers, got dtype {y.dtype}.")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("The waveform contains NaN or infinity.")
        with np.errstate(over="ignore"):
            y = y.astype(dtype, copy=False)
        if not np.isfinite(y).all():
            raise ValueError(f"The waveform holds values beyond the range of {np.dtype(dtype)}.")
        if y.ndim == 2:
            y = y.mean(axis=0, dtype=dtype)
        if y.ndim != 1:
            raise ValueError(
                f"A waveform must be a 1D array (samples) or 2D (channels, samples), "
                f"got {y.ndim} dimensions."
            )
        if y.size == 0:
            raise ValueError("The waveform is empty: it holds no samples.")
        rate = orig_sr if orig_sr is not None else sr
    if sr is not None and rate is not None and rate != sr:
        n = len(y)
        y = resample(y, orig_sr=rate, target_sr=sr).astype(dtype, copy=False)
        if len(y) == 0:
            where = f"{source}: the file" if _is_path(source) else "The waveform"
            message = (
                f"{where} is too short: its {n} sample(s) at {rate} Hz leave none at {sr} Hz."
            )
            raise AudioFileError(message) if _is_path(source) else ValueError(message)
        rate = sr
    return y, rate
