"""The Free Spoken Digit Dataset (FSDD): spoken digits 0-9 by six speakers, 8 kHz."""

import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ._home import get_data_home

__all__ = ["fetch_fsdd"]

# The GitHub archive of the dataset's last release: 3,000 recordings.
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.zip"
FSDD_SAMPLE_RATE = 8000
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
# The official split: indices 0-4 of every speaker and digit are the test part.
_TEST_INDICES = range(0, 5)
_TRAIN_INDICES = range(5, 50)
_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")

DESCR = """\
.. _fsdd_dataset:

Free Spoken Digit Dataset (FSDD)
--------------------------------

Recordings of the spoken digits 0 to 9 in English, by six speakers (george,
jackson, lucas, nicolas, theo, yweweler), 50 per speaker and digit: 3,000 mono
WAV clips at 8 kHz, trimmed to little silence at both ends (0.14 s to 2.3 s).
Files are named ``{digit}_{speaker}_{index}.wav``; the official split keeps
indices 0-4 for testing (300 clips) and 5-49 for training (2,700 clips).

**Data Set Characteristics:**

=================  ==============================
Classes            10 (digits 0-9)
Clips              3,000 (train 2,700, test 300)
Speakers           6
Sampling rate      8,000 Hz, mono, 16-bit PCM
=================  ==============================

License: Creative Commons Attribution-ShareAlike 4.0.

.. rubric:: References

- Z. Jackson, C. Souza, J. Flaks, Y. Pan, H. Nicolas and A. Thite, "Jakobovski/
  free-spoken-digit-dataset: v1.0.8", Zenodo, 2018, doi:10.5281/zenodo.1342401.
"""


def _index_recordings(folder):
    """``{(digit, speaker, index): path}`` of the FSDD-named files in ``folder``."""
    found = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = _NAME.match(path.name)
            if match:
                digit, speaker, index = match.groups()
                found[(int(digit), speaker, int(index))] = path
    return found


def _wanted(subset):
    indices = {"train": _TRAIN_INDICES, "test": _TEST_INDICES, "all": range(0, 50)}[subset]
    return {(d, s, i) for d in range(10) for s in FSDD_SPEAKERS for i in indices}


def _download(folder, url):
    """Download the release archive and extract its recordings into ``folder``.

    Nothing is written before the server answers, and each clip appears under
    its name only once complete.
    """
    with urllib.request.urlopen(url, timeout=60) as response:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".download-") as tmp:
            archive = Path(tmp) / "fsdd.zip"
            with open(archive, "wb") as f:
                shutil.copyfileobj(response, f)
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    name = member.rsplit("/", 1)[-1]
                    if "/recordings/" in member and _NAME.match(name):
                        target = folder / name
                        if not target.exists():
                            partial = Path(tmp) / name
                            partial.write_bytes(zf.read(member))
                            partial.replace(target)


def fetch_fsdd(*, data_home=None, subset="train", download_if_missing=True):
    """Load the Free Spoken Digit Dataset (FSDD), downloading it if needed.

    =================   ==============================
    Classes             10 (digits 0-9)
    Clips               2,700 train / 300 test
    Speakers            6
    Sampling rate       8,000 Hz
    =================   ==============================

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder of sklstm's data sets; the clips are read from
        ``<data_home>/fsdd/recordings/``. None means ``$SKLSTM_DATA``, else
        ``~/sklstm_data``.
    subset : {"train", "test", "all"}, default="train"
        The official training part (indices 5-49), test part (indices 0-4), or
        both.
    download_if_missing : bool, default=True
        Download the release archive from GitHub when clips of the subset are
        missing. If False, or if the download fails, raise ``OSError``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        waveforms : list of ndarray of float32 [shape=(n_i,)]
            The clips, at 8 kHz, ordered by digit, speaker and index.
        target : ndarray of int64 of shape (n_clips,)
            The digit said.
        speaker : ndarray of str of shape (n_clips,)
            Who said it (for grouped cross-validation).
        index : ndarray of int64 of shape (n_clips,)
            The take, 0-49.
        filenames : ndarray of str of shape (n_clips,)
            Path of each clip.
        sample_rate : int
            8000.
        DESCR : str
            Description of the data set.

    Raises
    ------
    OSError
        When clips of the subset are missing and cannot be downloaded; the
        message says where they must go.

    Examples
    --------
    >>> from sklstm.datasets import fetch_fsdd
    >>> fsdd = fetch_fsdd(subset="train")  # doctest: +SKIP
    >>> len(fsdd.waveforms), fsdd.target[:3], fsdd.speaker[:3]  # doctest: +SKIP
    (2700, array([0, 0, 0]), array(['george', 'george', 'george'], dtype='<U8'))
    """
    if subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be 'train', 'test' or 'all', got {subset!r}.")
    folder = get_data_home(data_home) / "fsdd" / "recordings"
    wanted = _wanted(subset)
    found = _index_recordings(folder)
    missing = wanted - found.keys()
    if missing:
        where = (
            f"Put the FSDD recordings ({{digit}}_{{speaker}}_{{index}}.wav, from {FSDD_URL}) "
            f"in {folder}, or point data_home or $SKLSTM_DATA at a folder holding "
            "fsdd/recordings/."
        )
        what = f"{len(missing)} of the {len(wanted)} clips of subset={subset!r} are missing"
        if not download_if_missing:
            raise OSError(f"{what} and download_if_missing=False. {where}")
        try:
            _download(folder, FSDD_URL)
        except (OSError, urllib.error.URLError, zipfile.BadZipFile) as exc:
            raise OSError(f"{what} and downloading them failed ({exc}). {where}") from exc
        found = _index_recordings(folder)
        missing = wanted - found.keys()
        if missing:
            raise OSError(f"{what} even after downloading {FSDD_URL}. {where}")
    import soundfile as sf

    keys = sorted(wanted)
    waveforms = []
    for key in keys:
        y, rate = sf.read(found[key], dtype="float32", always_2d=True)
        if rate != FSDD_SAMPLE_RATE:
            raise OSError(f"{found[key]}: sampled at {rate} Hz, FSDD clips are 8000 Hz.")
        waveforms.append(y.mean(axis=1) if y.shape[1] > 1 else y[:, 0])
    return Bunch(
        waveforms=waveforms,
        target=np.array([k[0] for k in keys], dtype=np.int64),
        speaker=np.array([k[1] for k in keys]),
        index=np.array([k[2] for k in keys], dtype=np.int64),
        filenames=np.array([str(found[k]) for k in keys]),
        sample_rate=FSDD_SAMPLE_RATE,
        DESCR=DESCR,
    )
