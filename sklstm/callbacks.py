"""Callbacks for the estimators' training, and the batches callbacks see.

sklstm trains through skorch, so any skorch callback (``LRScheduler``,
``Checkpoint``, ``EarlyStopping``, your own :class:`skorch.callbacks.Callback`)
can be passed in an estimator's ``callbacks``. Batch hooks (``on_batch_begin``,
``on_batch_end``) receive ``batch = (inputs, (y, sample_weight))`` where

- ``inputs`` is a :class:`PaddedBatch`: ``inputs.x`` the time-major padded
  float tensor ``[shape=(T, B, n_features)]`` and ``inputs.lengths`` the int64
  tensor ``[shape=(B,)]`` of valid steps (steps ``t >= lengths[b]`` are padding);
- ``y`` holds the encoded targets ``[shape=(B,)]`` (class indices into
  ``classes_``) or ``[shape=(B, n_outputs)]`` (standardized regression targets);
- ``sample_weight`` ``[shape=(B,)]`` the weights, class weights included.

A callback may change ``inputs.x`` in place before the forward pass, which is
how :class:`GaussianNoise` jitters and :class:`sklstm.audio.SpecAugment` masks
training batches.
"""

from ._noise import GaussianNoise
from ._training import PaddedBatch
from .checkpoint import ResumableCheckpoint

__all__ = ["GaussianNoise", "PaddedBatch", "ResumableCheckpoint"]
