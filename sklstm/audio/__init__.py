"""Audio features for sequence models: reading clips, MFCCs and training-time augmentation."""

from ._io import AudioFileError, load_audio, resample
from ._mfcc import MFCC

__all__ = ["MFCC", "AudioFileError", "load_audio", "resample"]
