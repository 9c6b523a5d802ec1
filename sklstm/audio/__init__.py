"""Audio features for sequence models: reading clips, MFCCs and training-time augmentation."""

from ._augment import (
    AugmentedClassifier,
    SpecAugment,
    WaveformAugmenter,
    add_noise,
    change_speed,
    shift_pitch,
    time_shift,
)
from ._io import AudioFileError, load_audio, resample
from ._mfcc import MFCC

__all__ = [
    "MFCC",
    "AudioFileError",
    "AugmentedClassifier",
    "SpecAugment",
    "WaveformAugmenter",
    "add_noise",
    "change_speed",
    "load_audio",
    "resample",
    "shift_pitch",
    "time_shift",
]
