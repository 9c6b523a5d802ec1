"""Reading audio: files and arrays, mono, resampling, and errors that name the file."""

import numpy as np
import pytest
import soundfile as sf

from sklstm.audio import AudioFileError, load_audio, resample


def tone(n, sr=8000, freq=440.0):
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


def test_reads_wav_as_mono_float32(tmp_path):
    stereo = np.stack([tone(800), -tone(800) * 0.5], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 8000, subtype="FLOAT")
    y, sr = load_audio(path)
    assert sr == 8000
    assert y.dtype == np.float32 and y.shape == (800,)
    np.testing.assert_allclose(y, stereo.mean(axis=1), atol=1e-7)


def test_pcm16_is_scaled_to_unit_range(tmp_path):
    path = tmp_path / "pcm.wav"
    sf.write(path, tone(400), 8000, subtype="PCM_16")
    y, _ = load_audio(str(path))
    np.testing.assert_allclose(y, tone(400), atol=1 / 32768)


def test_resamples_files_and_arrays(tmp_path):
    path = tmp_path / "16k.flac"
    sf.write(path, tone(16000, sr=16000), 16000)
    y, sr = load_audio(path, sr=8000)
    assert sr == 8000 and y.shape == (8000,)
    # The 440 Hz tone stays at 440 Hz: bin 440 of a 1-s spectrum.
    assert int(np.argmax(np.abs(np.fft.rfft(y)))) == 440

    y2, sr2 = load_audio(tone(16000, sr=16000), sr=8000, orig_sr=16000)
    assert sr2 == 8000 and y2.shape == (8000,)
    np.testing.assert_allclose(y2, y, atol=1e-3)
    np.testing.assert_array_equal(resample(y, orig_sr=8000, target_sr=8000), y)


def test_arrays_channels_first_and_checked():
    y, sr = load_audio(np.stack([np.ones(10), np.zeros(10)]), sr=8000)
    np.testing.assert_array_equal(y, np.full(10, 0.5, dtype=np.float32))
    assert sr == 8000
    with pytest.raises(ValueError, match="empty"):
        load_audio(np.zeros(0))
    with pytest.raises(ValueError, match="NaN"):
        load_audio(np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match="3 dimensions"):
        load_audio(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="must hold numbers"):
        load_audio(np.array(["a", "b"]))


def test_errors_name_the_file(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(8000), 8000, subtype="PCM_16")
    data = good.read_bytes()

    cases = {
        "missing.wav": (None, "no such file"),
        "empty.wav": (b"", r"the file is empty \(0 bytes\)"),
        "text.wav": (b"this is not audio\n", "not a readable audio file"),
        "header.wav": (data[:30], "not a readable audio file"),
        "truncated.wav": (
            data[:2044],
            "truncated: its header declares 8000 samples but only 1000",
        ),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(AudioFileError, match=message) as info:
            load_audio(path)
        assert str(info.value).startswith(str(path))
        assert isinstance(info.value, ValueError)

    silent = tmp_path / "zero-samples.wav"
    sf.write(silent, np.zeros(0), 8000, subtype="PCM_16")
    with pytest.raises(AudioFileError, match="zero-samples.wav: the file holds no samples"):
        load_audio(silent)


def test_files_with_non_finite_samples_or_too_short_to_resample(tmp_path):
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.1, np.nan, 0.2] * 100), 8000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="nan.wav: the file holds NaN or infinite samples"):
        load_audio(nan)
    inf = tmp_path / "inf.flac"
    sf.write(inf, np.array([0.1, np.inf] * 100), 8000, subtype="FLOAT", format="WAV")
    with pytest.raises(AudioFileError, match="NaN or infinite"):
        load_audio(inf)
    one = tmp_path / "one-sample.wav"
    sf.write(one, np.array([0.1]), 48000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="too short: its 1 sample.* at 48000 Hz leave none"):
        load_audio(one, sr=8000)
    assert load_audio(one)[0].shape == (1,)  # at its own rate it is fine


def test_arrays_beyond_float32():
    with pytest.raises(ValueError, match="beyond the range of float32"):
        load_audio(np.array([1e300, 0.0]))
    with pytest.raises(ValueError, match="too short"):
        load_audio(np.array([0.5]), sr=8000, orig_sr=48000)
