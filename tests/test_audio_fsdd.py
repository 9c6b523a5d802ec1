"""fetch_fsdd: the local training part, clear failures for what is missing, the download path."""

import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _data import DATA

from sklstm.datasets import _fsdd as fsdd_module
from sklstm.datasets import fetch_fsdd

needs_fsdd = pytest.mark.skipif(
    not (DATA / "fsdd" / "recordings").is_dir(),
    reason=f"FSDD not found under $SKLSTM_DATA ({DATA}/fsdd/recordings)",
)


@needs_fsdd
def test_train_subset_from_the_data_home():
    fsdd = fetch_fsdd(data_home=DATA, subset="train", download_if_missing=False)
    assert len(fsdd.waveforms) == len(fsdd.target) == 2700
    assert fsdd.sample_rate == 8000
    assert sorted(set(fsdd.speaker)) == list(fsdd_module.FSDD_SPEAKERS)
    assert fsdd.index.min() == 5 and fsdd.index.max() == 49
    assert np.bincount(fsdd.target).tolist() == [270] * 10
    assert all(w.dtype == np.float32 and w.ndim == 1 for w in fsdd.waveforms)
    first = Path(fsdd.filenames[0])
    assert first.name == "0_george_5.wav"
    np.testing.assert_array_equal(fsdd.waveforms[0], sf.read(first, dtype="float32")[0])
    assert "Free Spoken Digit Dataset" in fsdd.DESCR


@needs_fsdd
def test_default_data_home_is_the_environment(monkeypatch):
    monkeypatch.setenv("SKLSTM_DATA", str(DATA))
    assert len(fetch_fsdd(download_if_missing=False).target) == 2700


@needs_fsdd
def test_missing_test_part_fails_clearly_without_download():
    folder = DATA / "fsdd" / "recordings"
    with pytest.raises(OSError) as info:
        fetch_fsdd(data_home=DATA, subset="test", download_if_missing=False)
    message = str(info.value)
    assert "300 of the 300 clips of subset='test' are missing" in message
    assert str(folder) in message and "download_if_missing=False" in message


def test_failed_download_says_where_the_data_must_go(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(OSError) as info:
        fetch_fsdd(data_home=tmp_path, subset="all")
    message = str(info.value)
    assert "3000 of the 3000 clips of subset='all' are missing" in message
    assert "downloading them failed" in message and "Name or service not known" in message
    assert str(tmp_path / "fsdd" / "recordings") in message
    assert not (tmp_path / "fsdd").exists()  # nothing written before the server answers


def test_download_extracts_the_release_archive(tmp_path, monkeypatch):
    archive = io.BytesIO()
    top = "free-spoken-digit-dataset-1.0.10"
    clip = io.BytesIO()
    sf.write(clip, np.zeros(80, dtype=np.float32), 8000, format="WAV", subtype="PCM_16")
    with zipfile.ZipFile(archive, "w") as zf:
        for speaker in fsdd_module.FSDD_SPEAKERS:
            for digit in range(10):
                for index in range(5):
                    name = f"{digit}_{speaker}_{index}.wav"
                    zf.writestr(f"{top}/recordings/{name}", clip.getvalue())
        zf.writestr(f"{top}/README.md", "readme")
    archive.seek(0)

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    requested = []

    def serve(url, timeout=None):
        requested.append(url)
        return Response(archive.getvalue())

    monkeypatch.setattr(urllib.request, "urlopen", serve)
    fsdd = fetch_fsdd(data_home=tmp_path, subset="test")
    assert requested == [fsdd_module.FSDD_URL]
    assert len(fsdd.waveforms) == 300 and set(fsdd.index) == set(range(5))
    assert sorted(p.name for p in (tmp_path / "fsdd").iterdir()) == ["recordings"]
    # The train part was not in this archive: still a clear error, not an empty Bunch.
    with pytest.raises(OSError, match="2700 of the 2700 clips of subset='train' are missing"):
        fetch_fsdd(data_home=tmp_path, subset="train")


def test_bad_subset():
    with pytest.raises(ValueError, match="subset must be"):
        fetch_fsdd(subset="validation")
