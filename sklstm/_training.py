"""The training engine: skorch's NeuralNet, fed with length-bucketed padded batches.

skorch runs the epochs, the optimizer, the callbacks and the history; this
module supplies what is particular to sequences and to scikit-learn semantics:

- :class:`SequenceDataset` holds the unpadded sequences with their targets and
  sample weights;
- :class:`BucketIterator` (skorch's ``iterator_train``/``iterator_valid``) pads
  each batch only to its own longest sequence, with batches of similar lengths;
- :class:`SequenceNet` computes the sample-weighted loss plus MLP's L2 penalty;
- :class:`ValidationScore` and :class:`TrainingMonitor` are the callbacks that
  give MLPClassifier's ``validation_scores_``, ``tol``/``n_iter_no_change``
  stopping and best-weights restoring, and guard against divergence;
- :class:`LastCompletedEpoch` lets a fit interrupted by Ctrl-C, wherever it
  lands, end as of its last completed epoch.
"""

import copy
import math
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch import nn

from . import _distributed
from ._noise import GaussianNoise, _check_std
from ._sequences import Sequences, _concatenated_ranges, bucketed_batches, sorted_batches

__all__ = [
    "BucketIterator",
    "EpochSeeding",
    "HalfSquaredError",
    "IGNORED_STEP",
    "InputNoise",
    "InputShift",
    "LastCompletedEpoch",
    "OneCycleSchedule",
    "PaddedBatch",
    "SequenceDataset",
    "SequenceNet",
    "StepCrossEntropy",
    "StepTargets",
    "TrainingMonitor",
    "ValidationScore",
]


@contextmanager
def _noting_ctrl_c(net):
    """Set ``net.interrupted_`` when a Ctrl-C interrupts the block.

    The process's SIGINT handler stays in charge (Python's raises
    KeyboardInterrupt, an application's may raise its own exception); the flag
    is set only when it raised. Off the main thread, where no signal arrives,
    and under a handler that is not a Python function, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return

    def handler(signum, frame):
        try:
            previous(signum, frame)
        except BaseException:
            net.interrupted_ = True
            raise

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class PaddedBatch:
    """A time-major padded batch of sequences, as training callbacks see it.

    ``len()`` is the number of sequences and ``to(device)`` moves both tensors,
    which is all skorch asks of a batch.

    Parameters
    ----------
    x : Tensor [shape=(T, B, n_features)]
        The sequences, padded with zeros after their last valid step.
    lengths : Tensor of int64 [shape=(B,)]
        Valid steps of each sequence.
    """

    def __init__(self, x, lengths):
        self.x = x
        self.lengths = lengths

    def __len__(self):
        return self.lengths.shape[0]

    def to(self, device):
        return PaddedBatch(self.x.to(device), self.lengths.to(device))


#: The class index of padded steps: CrossEntropyLoss ignores it.
IGNORED_STEP = -100


@dataclass(frozen=True)
class StepTargets:
    """One class index per step of each sequence, and the weight of each step.

    Parameters
    ----------
    labels : Sequences
        Class indices, int64 ``[shape=(sum(T_i), 1)]``, laid out as the inputs.
    weights : Sequences
        Weight of each step from its class (class weights), float32, same layout.
    """

    labels: Sequences
    weights: Sequences

    def __len__(self):
        return self.labels.n_sequences

    def __getitem__(self, indices):
        return StepTargets(self.labels.subset(indices), self.weights.subset(indices))

    def padded(self, indices, sample_weight, length):
        """Time-major ``(labels, weights)`` tensors ``[shape=(length, B)]`` of a batch.

        Padded steps get the label :data:`IGNORED_STEP` and weight 0; the
        others the weight of their class times their sequence's sample weight.
        """
        labels, lengths = self.labels.padded(indices, length=length, time_major=True)
        weights, _ = self.weights.padded(indices, length=length, time_major=True)
        labels = labels[..., 0]
        labels[np.arange(length)[:, None] >= lengths] = IGNORED_STEP
        weights = weights[..., 0] * sample_weight[None, :]
        return torch.from_numpy(labels), torch.from_numpy(weights)

    def mean_weight(self, sample_weight):
        """Mean weight of a step: class weight times its sequence's sample weight."""
        per_sequence = np.add.reduceat(self.weights.data[:, 0], self.weights.offsets[:-1])
        return float(np.dot(per_sequence, sample_weight) / len(self.weights.data))

    def arrays(self):
        """What identifies these targets (for the digest of a fit's data)."""
        return self.labels.data, self.labels.offsets, self.weights.data


class StepCrossEntropy(nn.Module):
    """Cross-entropy of every step: ``[shape=(T, B, C)]`` logits, ``(T, B)`` labels.

    Returns ``[shape=(T, B)]`` losses, 0 at steps labelled :data:`IGNORED_STEP`.
    """

    def forward(self, y_pred, y_true):
        T, B, C = y_pred.shape
        losses = nn.functional.cross_entropy(
            y_pred.reshape(T * B, C),
            y_true.reshape(T * B),
            reduction="none",
            ignore_index=IGNORED_STEP,
        )
        return losses.reshape(T, B)


class SequenceDataset(torch.utils.data.Dataset):
    """Sequences with their targets and sample weights.

    Parameters
    ----------
    sequences : Sequences
        The inputs, unpadded.
    y : ndarray [shape=(n,) or (n, n_outputs)] or StepTargets
        Encoded targets: class indices (int64) or standardized values
        (float32) of each sequence, or the class of each step.
    sample_weight : ndarray of float32 [shape=(n,)]
    """

    def __init__(self, sequences, y, sample_weight):
        self.sequences = sequences
        self.y = y
        self.sample_weight = sample_weight

    def __len__(self):
        return self.sequences.n_sequences

    def mean_weight(self):
        """Mean weight of what the loss averages over: sequences, or steps."""
        if isinstance(self.y, StepTargets):
            return self.y.mean_weight(self.sample_weight)
        return float(np.mean(self.sample_weight))

    def batch(self, indices):
        """The batch of ``indices``: ``(PaddedBatch, (y, weight))`` tensors.

        ``y`` and ``weight`` are ``[shape=(B,)]`` per sequence, or
        ``[shape=(T, B)]`` per step for :class:`StepTargets`.
        """
        x, lengths = self.sequences.padded(indices, time_major=True)
        inputs = PaddedBatch(torch.from_numpy(x), torch.from_numpy(lengths))
        if isinstance(self.y, StepTargets):
            return inputs, self.y.padded(indices, self.sample_weight[indices], len(x))
        target = (torch.from_numpy(self.y[indices]), torch.from_numpy(self.sample_weight[indices]))
        return inputs, target

    def __getitem__(self, i):
        return self.batch(np.array([i]))


class BucketIterator:
    """Mini-batches for skorch, padded per batch.

    Training batches are shuffled every epoch but grouped by similar lengths
    (:func:`~sklstm._sequences.bucketed_batches`); evaluation batches are in
    order of length. Iterating again starts a new epoch.

    Parameters
    ----------
    dataset : SequenceDataset
    batch_size : int
    shuffle : bool, default=False
        Shuffle (training) or sort by length (evaluation).
    random_state : numpy.random.RandomState, default=None
        Source of the shuffling.
    pool_batches : int, default=32
        Batches' worth of shuffled sequences sorted together when bucketing;
        1 gives plain random batches, each padded to its own longest sequence.

    When training across processes, every process draws the same batches and
    takes its own share of each (see :mod:`sklstm._distributed`).
    """

    def __init__(self, dataset, batch_size, shuffle=False, random_state=None, pool_batches=32):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.random_state = random_state
        self.pool_batches = pool_batches

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        lengths = self.dataset.sequences.lengths
        if self.shuffle:
            batches = bucketed_batches(
                lengths, self.batch_size, self.random_state, pool_batches=self.pool_batches
            )
            if _distributed.world() is not None:
                batches = [b for b in map(_distributed.shard, batches) if b is not None]
        else:
            batches = sorted_batches(lengths, self.batch_size)
        for indices in batches:
            yield self.dataset.batch(indices)


class HalfSquaredError(torch.nn.Module):
    """Per-sample ``0.5 * mean_k (y_pred_k - y_k)^2``, MLPRegressor's loss."""

    def forward(self, y_pred, y_true):
        return 0.5 * (y_pred - y_true.view_as(y_pred)).pow(2).mean(dim=1)


class SequenceNet(NeuralNet):
    """skorch's NeuralNet for :class:`SequenceDataset` batches.

    Parameters
    ----------
    alpha : float, default=0.0
        L2 penalty on the weight matrices, scaled as in MLPClassifier:
        ``0.5 * alpha * ||W||^2`` per sample of (weighted) batch.
    weight_scale : float, default=1.0
        Mean sample weight of the training set (of its steps, for per-step
        targets). A batch's loss is ``sum(w_i * loss_i) / (n * weight_scale)``
        over its ``n`` sequences (valid steps): the weighted mean over the whole
        set is unchanged, and a batch of zero weights adds nothing instead of
        dividing by zero.
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(self, *args, alpha=0.0, weight_scale=1.0, validation_data=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha = alpha
        self.weight_scale = weight_scale
        self.validation_data = validation_data

    def initialize(self, *, optimizer=True):
        """skorch's ``initialize``, optionally without the optimizer.

        The first optimizer a process creates imports much of torch (about a
        second); a model loaded only to predict never needs one, and
        :meth:`ensure_optimizer` creates it when training continues.
        """
        if optimizer:
            return super().initialize()
        self.check_training_readiness()
        self._initialize_virtual_params()
        self._initialize_callbacks()
        self._initialize_module()
        self._initialize_criterion()
        self._initialize_history()
        # (skorch's _validate_params would reject optimizer__* before the optimizer exists.)
        self.initialized_ = True
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, noting whether Ctrl-C cut it short.

        skorch ends training quietly at a KeyboardInterrupt raised in its loop,
        which is also how callbacks stop training early on purpose (skorch's
        ``EarlyStopping``, :class:`TrainingMonitor`); and it lets one raised while
        the callbacks start or end training escape. A Ctrl-C (SIGINT, in the
        main thread) sets ``interrupted_`` and puts the net back as of its last
        completed epoch (:class:`LastCompletedEpoch`), so that wherever it
        lands, the fit ends in a state some whole number of epochs produced.
        """
        self.interrupted_ = False
        # (Nets pickled before this callback existed have none: no rollback.)
        completed = dict(self.callbacks_).get("last_completed_epoch")
        try:
            with _noting_ctrl_c(self):
                try:
                    super().partial_fit(X, y, classes, **fit_params)
                except KeyboardInterrupt:
                    if not self.interrupted_:
                        raise
            if self.interrupted_ and completed is not None:
                completed.restore(self)
        finally:
            if completed is not None:
                completed.snapshot_ = None  # a fitted model carries no spare copy of itself
        return self

    def ensure_optimizer(self):
        """Create the optimizer if :meth:`initialize` left it out."""
        if not hasattr(self, "optimizer_"):
            self._initialize_optimizer()
        return self

    def infer(self, x, **fit_params):
        dtype = next(self.module_.parameters()).dtype
        return self.module_(x.x.to(self.device, dtype), x.lengths.to(self.device))

    def get_split_datasets(self, X, y=None, **fit_params):
        return X, self.validation_data

    def get_loss(self, y_pred, y_true, X=None, training=False):
        target, weight = y_true
        if target.is_floating_point():
            target = target.to(y_pred.dtype)
        target, weight = target.to(y_pred.device), weight.to(y_pred.device, y_pred.dtype)
        per_sample = self.criterion_(y_pred, target)
        # The mean over sequences, or over the valid steps of per-step targets.
        count = (target != IGNORED_STEP).sum() if per_sample.dim() == 2 else len(weight)
        norm = count * self.weight_scale
        loss = (per_sample * weight).sum() / norm
        if training and self.alpha > 0:
            penalty = sum(
                p.pow(2).sum() for name, p in self.module_.named_parameters() if "weight" in name
            )
            # Data-parallel processes each add the penalty to their share of the
            # batch, and their gradients are averaged: count it once per batch.
            processes = _distributed.world()[1] if _distributed.world() else 1
            loss = loss + 0.5 * self.alpha * penalty / (norm * processes)
        return loss


class ValidationScore(Callback):
    """Record ``valid_score`` each epoch from the validation pass's own outputs.

    Parameters
    ----------
    score : callable
        ``score(y_pred, y_true, sample_weight) -> float`` on numpy arrays: the
        estimator's ``score`` (accuracy or R²) computed from raw network outputs.
    """

    def __init__(self, score):
        self.score = score

    def on_epoch_begin(self, net, **kwargs):
        self._outputs, self._targets, self._weights = [], [], []

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if not training:
            target, weight = batch[1]
            y_pred = y_pred.detach()
            if y_pred.dim() == 3:  # one output per step: the valid steps count
                valid = target != IGNORED_STEP
                y_pred = y_pred[valid.to(y_pred.device)]
                target, weight = target[valid], weight[valid]
            self._outputs.append(y_pred.cpu().numpy())
            self._targets.append(target.numpy())
            self._weights.append(weight.numpy())

    def on_epoch_end(self, net, **kwargs):
        if self._outputs:
            net.history.record(
                "valid_score",
                float(
                    self.score(
                        np.concatenate(self._outputs),
                        np.concatenate(self._targets),
                        np.concatenate(self._weights),
                    )
                ),
            )


def epoch_seed(seed, epoch, stream):
    """An independent 32-bit seed for one random stream of one epoch."""
    return int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1)[0])


class EpochSeeding(Callback):
    """Reseed shuffling and dropout at the start of every epoch from ``(seed, epoch)``.

    Each epoch's randomness then depends only on the fit's seed and the epoch's
    number, not on what ran before: a fit resumed from a checkpoint after epoch
    ``k`` draws exactly the batches and dropout masks the uninterrupted fit
    drew from epoch ``k + 1`` on.

    Parameters
    ----------
    random_state : numpy.random.RandomState
        The generator the training iterator shuffles with (reseeded in place).
    """

    def __init__(self, random_state):
        self.random_state = random_state

    def start(self, seed, next_epoch):
        """Seed of this fit, and the number of the next epoch (epochs trained so far)."""
        self.seed = seed
        self.next_epoch = next_epoch

    def on_epoch_begin(self, net, **kwargs):
        self.random_state.seed(epoch_seed(self.seed, self.next_epoch, 0))
        torch.manual_seed(epoch_seed(self.seed, self.next_epoch, 1))
        self.next_epoch += 1


class InputNoise(GaussianNoise):
    """The estimators' ``input_noise``: :class:`GaussianNoise` seeded as :class:`EpochSeeding`.

    Each epoch's noise depends only on the fit's seed, the epoch's number as the
    estimator counts epochs (a fit resumed from a checkpoint, warm-started or
    not, draws what the uninterrupted fit drew) and the process's rank (under
    data-parallel training each process draws the noise of its own share).
    """

    def __init__(self):
        super().__init__(0.0)

    def start(self, std, seed, next_epoch):
        """This fit's per-feature ``std``, seed and next epoch's number."""
        self.std = std
        self.seed = seed
        self.next_epoch = next_epoch

    def on_train_begin(self, net, **kwargs):
        self._std = _check_std(self.std)

    def on_epoch_begin(self, net, **kwargs):
        rank = (_distributed.world() or (0, 1))[0]
        entropy = np.random.SeedSequence([self.seed, self.next_epoch, 3, rank])
        self.generator_ = torch.Generator().manual_seed(int(entropy.generate_state(1)[0]))
        self.next_epoch += 1


class InputShift(Callback):
    """The estimators' ``input_shift``: each training series delayed by 0 to ``max_shift`` steps.

    A strided front end reads a series on a grid of every ``stride``-th step;
    where the grid falls on a shape is an accident of where the series starts,
    and a network fitted on a few series learns those accidents. Each training
    series of each batch is delayed by a number of steps drawn uniformly from
    ``0..max_shift``: its first step is repeated that many times in front of it,
    and it grows by as many steps (the batch by up to ``max_shift``), so that
    every step of it, its end above all, is still read. Seeded as
    :class:`InputNoise`, before the noise (each repeated step gets noise of its
    own); padding stays zero, and validation batches and predictions are never
    touched.
    """

    def __init__(self):
        self.max_shift = 0

    def start(self, max_shift, seed, next_epoch):
        """This fit's largest delay, seed and next epoch's number."""
        self.max_shift = int(max_shift)
        self.seed = seed
        self.next_epoch = next_epoch

    def on_epoch_begin(self, net, **kwargs):
        rank = (_distributed.world() or (0, 1))[0]
        entropy = np.random.SeedSequence([self.seed, self.next_epoch, 4, rank])
        self.generator_ = torch.Generator().manual_seed(int(entropy.generate_state(1)[0]))
        self.next_epoch += 1

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training or self.max_shift <= 0:
            return
        padded = batch[0]
        x, lengths = padded.x, padded.lengths.cpu()
        n_sequences, n_features = x.shape[1], x.shape[2]
        shift = torch.randint(0, self.max_shift + 1, (n_sequences,), generator=self.generator_)
        delayed = lengths + shift
        n_steps = max(int(delayed.max()), x.shape[0])
        steps = torch.arange(n_steps)[:, None]
        # Step t of a delayed series is step t - shift of the series (its first
        # step before that); padding reads its last step and is zeroed below.
        source = torch.minimum((steps - shift).clamp(min=0), (lengths - 1).clamp(min=0))
        source = source.to(x.device)[:, :, None].expand(n_steps, n_sequences, n_features)
        valid = (steps < delayed).to(device=x.device, dtype=x.dtype)[:, :, None]
        padded.x = torch.gather(x, 0, source) * valid
        padded.lengths = delayed.to(padded.lengths.device)


def one_cycle_rate(progress, peak):
    """The one-cycle learning rate at ``progress`` (0 to 1) of the training budget.

    A cosine warm-up from ``peak / 25`` to ``peak`` over the first 30% of the
    updates, then a cosine annealing down to ``peak / 25e4`` (the shape of
    ``torch.optim.lr_scheduler.OneCycleLR`` with its default settings).
    """
    warmup, start, end = 0.3, peak / 25, peak / 25e4
    if progress < warmup:
        return start + (peak - start) * (1 - math.cos(math.pi * progress / warmup)) / 2
    rest = min((progress - warmup) / (1 - warmup), 1.0)
    return end + (peak - end) * (1 + math.cos(math.pi * rest)) / 2


class OneCycleSchedule(Callback):
    """Set the learning rate of every update from its place in the planned budget.

    The rate is a function of the update's index only (epoch of this fit times
    updates per epoch, plus the batch), so a fit resumed from a checkpoint takes
    exactly the steps the uninterrupted one would have taken. Each fit plans
    anew with :meth:`start`.
    """

    def start(self, epochs_done, epochs, batches_per_epoch, *, peak, mode="cycle"):
        """Plan ``epochs`` epochs of ``batches_per_epoch`` updates, ``epochs_done`` of them done.

        ``mode``: ``"cycle"`` follows :func:`one_cycle_rate` up to ``peak``;
        ``"constant"`` steps at ``peak``; ``"off"`` leaves the rate alone (to
        L-BFGS, or to a user's ``LRScheduler``).
        """
        self.peak = peak
        self.mode = mode
        self.epoch = epochs_done
        self.total = max(epochs * batches_per_epoch, 1)
        self.batches_per_epoch = batches_per_epoch

    def on_epoch_begin(self, net, **kwargs):
        self._step = self.epoch * self.batches_per_epoch

    def on_epoch_end(self, net, **kwargs):
        self.epoch += 1

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training or self.mode == "off":
            return
        if self.mode == "cycle":
            rate = one_cycle_rate(self._step / self.total, self.peak)
        else:
            rate = self.peak
        for group in net.optimizer_.param_groups:
            group["lr"] = rate
        self._step += 1


def _weights(net):
    """A copy of the network's weights, keyed as the bare module names them.

    Under data-parallel training the module is wrapped (keys ``module.*``);
    the bare keys stay valid across the fits, checkpoints and resumes that
    wrap it or not.
    """
    return copy.deepcopy(_distributed.unwrap(net.module_).state_dict())


class TrainingMonitor(Callback):
    """MLPClassifier's stopping rule, best-weights restoring, and divergence guard.

    Stops when the monitored value has not improved by more than ``tol`` for
    more than ``n_iter_no_change`` consecutive epochs, counted as MLPClassifier
    counts them; with ``restore_best``, the best epoch's weights are loaded back
    at the end (also after an interruption).

    A non-finite training loss stops training at once and brings back the
    weights of the last completed epoch (or those from before this call), so
    that a diverged network is never left in place.

    Parameters
    ----------
    monitor : {"train_loss", "valid_score"}
        Training loss (lower is better) or validation score (higher is better).
    tol : float
    n_iter_no_change : int
    restore_best : bool
    stop : bool, default=True
        Whether a stall stops training; False runs every planned epoch (a
        learning-rate schedule planned for them), still keeping the best epoch's
        weights with ``restore_best``.
    """

    def __init__(self, monitor, tol, n_iter_no_change, restore_best, stop=True):
        self.monitor = monitor
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.restore_best = restore_best
        self.stop = stop

    def initialize(self):
        self.best_ = None
        self.best_state_ = None
        self.no_improvement_ = 0
        self.converged_ = False
        self.diverged_ = False
        self.completed_epochs_ = 0
        return self

    def watch(self, monitor, *, restore_best, tol, n_iter_no_change):
        """Monitor ``monitor`` with these settings from now on; another quantity
        than before starts afresh."""
        if monitor != self.monitor:
            self.best_, self.best_state_, self.no_improvement_ = None, None, 0
        self.monitor = monitor
        self.restore_best = restore_best
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change

    def on_train_begin(self, net, **kwargs):
        self.converged_ = self.diverged_ = False
        self.completed_epochs_ = 0
        self._good_state = _weights(net)

    def on_epoch_begin(self, net, **kwargs):
        if self.converged_:
            # Stop before the next epoch rather than inside the last one, so that
            # every callback (checkpoints, logs) has seen the last epoch end.
            raise KeyboardInterrupt

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        if training and not _distributed.all_finite(loss):
            self.diverged_ = True
            raise KeyboardInterrupt  # skorch's way of ending fit_loop early

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        self.completed_epochs_ += 1
        if _distributed.world() is not None:
            # Each process saw its own share: all decide on the loss of the whole epoch.
            shared = net.history[-1, "train_loss"]
            seen = sum(net.history[-1, "batches", :, "train_batch_size"])
            net.history.record("train_loss", _distributed.mean_over_processes(shared, seen))
        self._good_state = _weights(net)
        value = net.history[-1, self.monitor]
        sign = -1.0 if self.monitor == "valid_score" else 1.0
        if self.best_ is not None and sign * value > sign * self.best_ - self.tol:
            self.no_improvement_ += 1
        else:
            self.no_improvement_ = 0
        if self.best_ is None or sign * value < sign * self.best_:
            self.best_ = value
            if self.restore_best:
                self.best_state_ = self._good_state
        if self.stop and self.no_improvement_ > self.n_iter_no_change:
            self.converged_ = True

    def on_train_end(self, net, **kwargs):
        if self.restore_best and self.best_state_ is not None:
            _distributed.unwrap(net.module_).load_state_dict(self.best_state_)
        elif self.diverged_:
            _distributed.unwrap(net.module_).load_state_dict(self._good_state)
        self._good_state = None

    def get_state(self):
        """What a resumed fit needs to take the same stopping decisions."""
        return {
            "best": self.best_,
            "no_improvement": self.no_improvement_,
            "best_state": self.best_state_,
        }

    def set_state(self, state, net):
        self.best_ = state["best"]
        self.no_improvement_ = state["no_improvement"]
        self.best_state_ = state["best_state"]


class LastCompletedEpoch(Callback):
    """Remember the net as of its last completed epoch, and go back there.

    Installed after every other callback: an epoch is complete once all of
    them have seen it end (the checkpoint written, the log line printed).
    :meth:`restore` gives the weights, the optimizer's state, the history and
    the stopping rule's state of that moment (of the start of the fit if no
    epoch completed); with ``restore_best``, the weights of the best epoch up
    to it.
    """

    def initialize(self):
        self.snapshot_ = None
        return self

    def on_train_begin(self, net, **kwargs):
        self._take(net)

    def on_epoch_end(self, net, **kwargs):
        self._take(net)

    def _take(self, net):
        monitor = dict(net.callbacks_)["monitor"]
        self.snapshot_ = {
            "rows": len(net.history),
            "weights": _weights(net),
            "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
            "monitor": (monitor.best_, monitor.no_improvement_, monitor.best_state_),
        }

    def restore(self, net):
        """Put ``net`` back as of the last completed epoch (nothing if none was seen)."""
        if self.snapshot_ is None:
            return  # interrupted before training started: nothing changed yet
        monitor = dict(net.callbacks_)["monitor"]
        del net.history[self.snapshot_["rows"] :]
        monitor.best_, monitor.no_improvement_, monitor.best_state_ = self.snapshot_["monitor"]
        weights = self.snapshot_["weights"]
        if monitor.restore_best and monitor.best_state_ is not None:
            weights = monitor.best_state_
        _distributed.unwrap(net.module_).load_state_dict(weights)
        net.optimizer_.load_state_dict(self.snapshot_["optimizer"])


# Inference batches are padded to a multiple of this many rows, so that a
# sequence's outputs are the same bits whatever it is batched with: matrix
# products with fewer rows (MKL: 1-3, 5-7, 9-11) take other code paths, and
# element-wise kernels finish an array's last partial SIMD vector with scalar
# code whose rounding differs; with B a multiple of 16, every per-step tensor
# (B x H floats) fills whole vectors.
_INFERENCE_ROW_MULTIPLE = 16


def predict_raw(module, sequences, batch_size, device, max_steps=None):
    """Network outputs for every sequence, in input order.

    Batches are formed in order of length, so that each is padded little, and
    the outputs are put back in input order. ``max_steps`` bounds the padded
    steps of a batch (see :func:`~sklstm._sequences.sorted_batches`). Batches
    are completed to a multiple of 16 sequences with all-zero sequences of the
    batch's length, whose outputs are dropped.

    Returns
    -------
    output : ndarray of float32 [shape=(n_sequences, output_size)], or \
            [shape=(sum(T_i), output_size)] for a network with one output per step
        Per-step outputs are laid out as ``sequences.data``: sequence after
        sequence, each step's row.
    """
    was_training = module.training
    dtype = next(module.parameters()).dtype
    module.eval()
    outputs = None
    try:
        with torch.inference_mode():
            for indices in sorted_batches(sequences.lengths, batch_size, max_steps):
                x, lengths = sequences.padded(indices, time_major=True)
                missing = -len(indices) % _INFERENCE_ROW_MULTIPLE
                if missing > 0:
                    x = np.concatenate([x, np.zeros((len(x), missing, x.shape[2]), x.dtype)], 1)
                    lengths = np.concatenate([lengths, np.full(missing, len(x))])
                out = module(torch.from_numpy(x).to(device, dtype), torch.from_numpy(lengths))
                if out.dim() == 3:  # [shape=(T, B, C)]: the valid steps, sequence by sequence
                    real = lengths[: len(indices)]
                    valid = torch.from_numpy(np.arange(len(x))[None, :] < real[:, None])
                    out = out.transpose(0, 1)[: len(indices)][valid.to(out.device)]
                    rows = _concatenated_ranges(sequences.offsets[indices], real)
                    total = len(sequences.data)
                else:
                    out, rows, total = out[: len(indices)], indices, sequences.n_sequences
                out = out.float().cpu().numpy()
                if outputs is None:
                    outputs = np.empty((total, out.shape[1]), dtype=np.float32)
                outputs[rows] = out
    finally:
        module.train(was_training)
    return outputs
