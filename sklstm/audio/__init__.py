"""Audio features for sequence models (reading clips, MFCCs, training-time augmentation)
and the keyword spotters built on them."""

from ._augment import (
    AugmentedClassifier,
    SpecAugment,
    WaveformAugmenter,
    add_noise,
    add_reverb,
    change_speed,
    change_tempo,
    colored_noise,
    shift_pitch,
    time_shift,
)
from ._causal import CausalKeywordSpotter
from ._causal_stream import CausalKeywordStream
from ._io import AudioFileError, load_audio, resample
from ._live import KeywordStream
from ._mfcc import MFCC
from ._plot import plot_keywords
from ._spot import event_scores, make_stream, scan_keywords, speech_segments, spot_keywords
from ._spotter import KeywordSpotter, make_babble, make_background
from ._tuning import tune_thresholds

__all__ = [
    "MFCC",
    "AudioFileError",
    "AugmentedClassifier",
    "CausalKeywordSpotter",
    "CausalKeywordStream",
    "KeywordSpotter",
    "KeywordStream",
    "SpecAugment",
    "WaveformAugmenter",
    "add_noise",
    "add_reverb",
    "change_speed",
    "change_tempo",
    "colored_noise",
    "event_scores",
    "load_audio",
    "make_babble",
    "make_background",
    "make_stream",
    "plot_keywords",
    "resample",
    "scan_keywords",
    "shift_pitch",
    "speech_segments",
    "spot_keywords",
    "time_shift",
    "tune_thresholds",
]
