"""A trained :class:`~sklstm.nn.SequenceNetwork` run over a sequence (or several side by
side) as it arrives.

:class:`NetworkStream` carries what the network needs from the steps it has
seen (the recurrent state, running pooling statistics and, with a front end,
the few last input steps its convolutions still read) and gives, for every
new step, the output the network gives for the sequence up to that step.
Memory stays constant however long the sequence.

The front end's convolutions are centred: the feature of a step also reads
the next few steps, which, for a sequence cut at its newest step, are the
zeros the convolutions pad with. Those last features (and the recurrent
steps over them) change once the steps they read arrive, so the stream keeps
them provisional: it commits the recurrent state only over features that no
future step can change, and runs the provisional ones from that state for
each output.
"""

import contextlib
import copy
from numbers import Integral

import torch
from torch import nn

from .frontend import full_precision_cudnn
from .pooling import AttentionPool, LastPool, MaxPool, MeanPool
from .recurrent import ExplicitRecurrent, FusedGRU, FusedLSTM, FusedRNN

__all__ = ["NetworkStream"]

_TORCH_CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def _cell(recurrent):
    if isinstance(recurrent, ExplicitRecurrent):
        return recurrent.cell
    for cell, cls in (("lstm", FusedLSTM), ("gru", FusedGRU), ("rnn", FusedRNN)):
        if isinstance(recurrent, cls):
            return cell
    raise TypeError(f"Cannot stream recurrent layers of type {type(recurrent).__name__}.")


def _stepping_copy(recurrent, device, dtype):
    """torch.nn's module with the same weights: it carries its state between calls.

    The two backends share parameter names and shapes, so the explicit
    layers' weights load as they are (their outputs agree to 1e-5).
    """
    cls = _TORCH_CELLS[_cell(recurrent)]
    stepping = cls(
        recurrent.input_size,
        recurrent.hidden_size,
        num_layers=recurrent.num_layers,
        device=device,
        dtype=dtype,
    )
    stepping.load_state_dict(recurrent.state_dict())
    return stepping.eval()


class _Pooled:
    """Running pooling statistics of the recurrent outputs committed so far."""

    def __init__(self, pool, size, n_streams):
        self.pool = pool
        self.last = None
        self.count = 0
        self.sum = torch.zeros(n_streams, size, dtype=torch.float64)
        self.max = None
        # Online softmax of the attention scores: running maximum, weighted sum, total.
        self.shift = torch.full((n_streams,), float("-inf"), dtype=torch.float64)
        self.numerator = torch.zeros(n_streams, size, dtype=torch.float64)
        self.denominator = torch.zeros(n_streams, dtype=torch.float64)

    def to(self, device):
        for name in ("sum", "shift", "numerator", "denominator"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def extend(self, outputs, *, commit):
        """Pooled vectors of the committed outputs followed by each prefix of ``outputs``.

        ``outputs [shape=(k, B, H)]`` (B streams); returns ``[shape=(k, B, H)]``,
        in their dtype. With ``commit``, the statistics then include ``outputs``.
        """
        pool, k = self.pool, len(outputs)
        wide = outputs.double()
        if isinstance(pool, LastPool):
            rows = outputs
            if commit:
                self.last = outputs[-1]
        elif isinstance(pool, MeanPool):
            sums = torch.cumsum(wide, 0) + self.sum
            counts = self.count + torch.arange(1, k + 1, device=outputs.device)
            rows = (sums / counts[:, None, None]).to(outputs.dtype)
            if commit:
                self.sum, self.count = sums[-1], self.count + k
        elif isinstance(pool, MaxPool):
            rows = torch.cummax(outputs, 0).values
            if self.max is not None:
                rows = torch.maximum(rows, self.max)
            if commit:
                self.max = rows[-1]
        elif isinstance(pool, AttentionPool):
            scores = pool.score(torch.tanh(pool.project(outputs)))[..., 0].double()
            # One shift per stream for the chunk: scores are bounded by the norm
            # of the score vector (tanh <= 1), far inside float64's exponent range.
            shift = torch.maximum(self.shift, scores.max(0).values)
            rescale = torch.exp(self.shift - shift)
            weights = torch.exp(scores - shift)
            numerators = self.numerator * rescale[:, None] + torch.cumsum(
                weights[..., None] * wide, 0
            )
            denominators = self.denominator * rescale + torch.cumsum(weights, 0)
            rows = (numerators / denominators[..., None]).to(outputs.dtype)
            if commit:
                self.shift, self.numerator = shift, numerators[-1]
                self.denominator = denominators[-1]
        else:
            raise TypeError(f"Cannot stream pooling {type(pool).__name__}.")
        return rows


class NetworkStream:
    """Outputs of a unidirectional network for every prefix of a sequence, or of several.

    Parameters
    ----------
    network : SequenceNetwork
        A trained network with unidirectional recurrent layers (any cell,
        either backend, any pooling or none, with or without front end and
        static features). The stream works on a copy of it, taken when the
        stream is created: training the network further does not change the
        stream.
    n_streams : int or None, default=None
        None streams one sequence: :meth:`update` takes ``(n, input_size)``
        steps. An integer streams that many independent sequences side by
        side, a step of each per row: ``(n, n_streams, input_size)`` (the
        time-major layout of ``torch.nn.LSTM``), in one batched computation.

    Notes
    -----
    The recurrent layers step in torch.nn's fused kernels, whichever backend
    the network has: for the explicit backend the two agree to rounding at
    each step, which a network whose state amplifies small differences (large
    recurrent weights) can grow over thousands of steps. :meth:`update`
    returns inference tensors (no autograd).

    Examples
    --------
    >>> import torch
    >>> from sklstm.nn import SequenceNetwork
    >>> from sklstm.nn import NetworkStream
    >>> net = SequenceNetwork(input_size=3, output_size=2, hidden_size=8, pooling="mean").eval()
    >>> x = torch.randn(10, 3)
    >>> stream = NetworkStream(net)
    >>> rows = torch.cat([stream.update(x[:4]), stream.update(x[4:])])
    >>> whole = net(x[:, None], torch.tensor([10]))
    >>> bool(torch.allclose(rows[-1], whole[0], atol=1e-6))
    True
    """

    def __init__(self, network, n_streams=None):
        if n_streams is not None and (
            isinstance(n_streams, bool) or not isinstance(n_streams, Integral) or n_streams < 1
        ):
            raise ValueError(f"n_streams must be None or a positive int, got {n_streams!r}.")
        self.n_streams = None if n_streams is None else int(n_streams)
        self._batch = 1 if n_streams is None else int(n_streams)
        recurrent = network.recurrent
        if recurrent.bidirectional:
            raise ValueError(
                "A bidirectional network reads each sequence from its end as well: it cannot "
                "give outputs before the sequence is complete. Train with "
                "bidirectional=False to stream."
            )
        parameter = next(network.parameters())
        self.device, self.dtype = parameter.device, parameter.dtype
        network = copy.deepcopy(network).eval()
        self.network = network
        self._rnn = _stepping_copy(recurrent, self.device, self.dtype)
        # Step as predict computes: the explicit backend's matrix products in full
        # float32 (cuDNN without TF32); the fused one with cuDNN's own settings.
        self._exact = isinstance(recurrent, ExplicitRecurrent)
        self._cell = _cell(recurrent)
        self._static_size = network.static_size
        frontend = network.frontend
        if frontend is not None:
            # How far each convolution reads ahead (and back): its half-width.
            # The blocks up to the strided second one read input steps, those
            # after it strided features.
            reach = [conv.padding[0] for conv in frontend.convs]
            self._reach = (sum(reach[:2]), sum(reach[2:]))
            self._stride = frontend.stride
        self.reset()

    def reset(self):
        """Forget the sequence: the next step is the first of a new one."""
        self._n_steps = 0
        self._state = None
        self._static = None
        pool = self.network.pool
        self._pooled = None
        if pool is not None:
            size = self._rnn.hidden_size
            self._pooled = _Pooled(pool, size, self._batch).to(self.device)
        self._last_output = None
        # Front end: features committed, their sum, and the input steps still read.
        self._committed = 0
        self._feature_sum = None
        self._inputs = None
        self._inputs_start = 0

    @property
    def n_steps(self):
        """Steps of the current sequence seen so far."""
        return self._n_steps

    def buffered_steps(self):
        """Input steps the stream holds (bounded by the front end's reach; 0 without one)."""
        return 0 if self._inputs is None else len(self._inputs)

    def update(self, steps):
        """Feed the next steps; the network's output for each prefix ending at one of them.

        Parameters
        ----------
        steps : Tensor [shape=(n, input_size)], or [shape=(n, n_streams, input_size)]
            The next steps of the sequence, or of each stream (static
            features, if any, are read from each sequence's first step).

        Returns
        -------
        outputs : Tensor [shape=(n, output_size)], or [shape=(n, n_streams, output_size)]
            Row ``k``: what the network gives for the sequence up to and
            including ``steps[k]`` (for each stream).
        """
        network = self.network
        expected = network.recurrent.input_size + self._static_size
        if network.frontend is not None:
            expected = network.frontend.input_size + self._static_size
        shape = (expected,) if self.n_streams is None else (self.n_streams, expected)
        if steps.dim() != 1 + len(shape) or tuple(steps.shape[1:]) != shape:
            shape = ", ".join(map(str, ("n", *shape)))
            raise ValueError(f"steps must have shape ({shape}), got {tuple(steps.shape)}.")
        if self.n_streams is None:
            return self._update(steps[:, None])[:, 0]
        return self._update(steps)

    def _update(self, steps):
        network = self.network
        weight = next(self._rnn.parameters())
        precision = full_precision_cudnn(weight) if self._exact else contextlib.nullcontext()
        with torch.inference_mode(), precision:
            # A copy: the caller may refill its buffer with the next steps.
            steps = steps.to(device=self.device, dtype=self.dtype, copy=True)
            if self._static_size:
                if self._static is None and len(steps):
                    self._static = steps[0, :, -self._static_size :].clone()
                steps = steps[..., : -self._static_size]
            if not len(steps):
                return steps.new_zeros((0, self._batch, network.head.out_features))
            if network.frontend is None:
                return self._update_steps(steps)
            return torch.cat([self._update_through_frontend(x) for x in steps])

    # -- without a front end: every step is final at once -------------------------

    def _run(self, inputs, state):
        """``inputs [shape=(k, B, F)]`` from ``state``: outputs ``[shape=(k, B, H)]``, state."""
        return self._rnn(inputs, state)

    def _update_steps(self, steps):
        outputs, self._state = self._run(steps, self._state)
        self._n_steps += len(steps)
        if self._pooled is None:
            return self._head(outputs)
        return self._head(self._pooled.extend(outputs, commit=True))

    def _head(self, features, frontend_features=None):
        network = self.network
        parts = [features] if frontend_features is None else [features, frontend_features]
        if self._static_size:
            parts.append(self._static.expand(len(features), -1, -1))
        return network.head(torch.cat(parts, dim=-1))

    # -- with a front end: features near the newest step are provisional ---------

    def _final_features(self, n_steps):
        """Features of a sequence of ``n_steps`` steps that no later step changes."""
        before, after = self._reach
        reach = n_steps - 1 - before
        return 0 if reach < 0 else max(0, reach // self._stride - after + 1)

    def _window_start(self, first_feature):
        """First input step of a window whose features from ``first_feature`` on are exact.

        A multiple of the stride, so that the window's strided convolution
        samples the steps the whole sequence's does; far enough back that
        every input the feature ``first_feature`` reads, through all the
        convolutions, lies inside the window.
        """
        before, after = self._reach
        s = self._stride
        return max(0, ((first_feature - after) * s - before) // s * s)

    def _update_through_frontend(self, x):
        network, s = self.network, self._stride
        x = x[None]  # [shape=(1, B, F)]
        self._inputs = x if self._inputs is None else torch.cat([self._inputs, x])
        self._n_steps += 1
        n_steps = self._n_steps
        n_features = -(-n_steps // s)
        final = self._final_features(n_steps)
        start = self._window_start(self._committed)
        window = self._inputs[start - self._inputs_start :]
        lengths = torch.full((self._batch,), len(window), device=self.device)
        features, _ = network.frontend(window, lengths)
        offset = start // s  # the window's first feature is this one of the sequence
        new = features[self._committed - offset : final - offset]
        provisional = features[final - offset : n_features - offset]
        if len(new):
            outputs, self._state = self._run(new, self._state)
            if self._pooled is not None:
                self._pooled.extend(outputs, commit=True)
            total = new.double().sum(0)
            self._feature_sum = total if self._feature_sum is None else self._feature_sum + total
            self._committed = final
            keep = self._window_start(final)
            self._inputs = self._inputs[keep - self._inputs_start :]
            self._inputs_start = keep
        outputs, _ = self._run(provisional, self._state)
        feature_sum = provisional.double().sum(0)
        if self._feature_sum is not None:
            feature_sum = feature_sum + self._feature_sum
        if self._pooled is None:  # one output per step: the newest step's
            return self._head(outputs[-1:], provisional[-1:])
        pooled = self._pooled.extend(outputs, commit=False)[-1:]
        return self._head(pooled, (feature_sum / n_features).to(self.dtype)[None])
