"""ONNX export of fitted sklstm estimators.

The exported graph takes

- ``x`` float32 ``[shape=(batch, time, n_features)]``: padded sequences, batch-first;
- ``lengths`` int64 ``[shape=(batch,)]``: valid steps of each sequence,

with dynamic batch size and sequence length, and returns

- classifiers: ``probabilities`` float32 ``[shape=(batch, n_classes)]`` (the
  columns of ``classes_``, which are stored in the model's metadata as JSON under
  ``classes``) and ``label`` int64 ``[shape=(batch,)]``, the index of the most
  probable class;
- regressors: ``predictions`` float32 ``[shape=(batch, n_outputs)]`` in the
  units of ``y`` (the target standardization is part of the graph);
- taggers (:class:`~sklstm.LSTMTagger`): ``probabilities`` float32
  ``[shape=(batch, time, n_classes)]`` and ``label`` int64
  ``[shape=(batch, time)]``; at padded steps the probabilities are 0 and the
  label -1.

Preprocessing (MFCC, :class:`~sklstm.SequenceScaler`) is not part of the graph:
apply it before feeding ``x``. Models trained with the explicit backend are
exported through the fused LSTM/GRU/RNN operators with the same weights, which
compute the same function; the ONNX RNN operators take ``lengths`` as their
``sequence_lens``, so variable-length batches give the same outputs as
``predict_proba``/``predict``.
"""

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from ._atomic import atomic_path
from .nn import SequenceNetwork

__all__ = ["export_onnx", "stream_state"]


class _ExportGraph(torch.nn.Module):
    """Batch-first inputs, the network, and the estimator's output mapping."""

    def __init__(self, network, kind, y_mean=None, y_scale=None):
        super().__init__()
        self.network = network
        self.kind = kind
        if kind == "regressor":
            self.register_buffer("y_mean", torch.as_tensor(y_mean, dtype=torch.float32))
            self.register_buffer("y_scale", torch.as_tensor(y_scale, dtype=torch.float32))

    def forward(self, x, lengths):
        out = self.network(x.transpose(0, 1), lengths)
        if self.kind == "regressor":
            return out * self.y_scale + self.y_mean
        if self.kind != "tagger":
            return torch.softmax(out, dim=-1), out.argmax(dim=-1)
        out = out.transpose(0, 1)  # [shape=(B, T, C)]
        valid = torch.arange(out.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
        proba = torch.softmax(out, dim=-1) * valid.unsqueeze(-1).to(out.dtype)
        label = torch.where(valid, out.argmax(dim=-1), torch.full_like(lengths, -1)[:, None])
        return proba, label


class _StreamStepGraph(torch.nn.Module):
    """One step of a stream: the next step and the carried state in, outputs and state out.

    The state is explicit (onnxruntime keeps none): ``count`` (steps seen,
    int64 ``[1]``), ``static`` (the first step's static features), the
    recurrent ``h`` (and ``c`` for LSTM) ``[num_layers, 1, H]``, and the
    pooling's running statistics.
    """

    def __init__(self, network, kind, y_mean=None, y_scale=None):
        super().__init__()
        self.network = network
        self.kind = kind
        self.lstm = isinstance(network.recurrent, torch.nn.LSTM)
        # torch.nn's own forward (with a state), not the length-aware one of sklstm's layers.
        self.step = next(
            cls.forward
            for cls in type(network.recurrent).__mro__
            if cls in (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN)
        )
        self.pooling = type(network.pool).__name__ if network.pool is not None else None
        if kind == "regressor":
            self.register_buffer("y_mean", torch.as_tensor(y_mean, dtype=torch.float32))
            self.register_buffer("y_scale", torch.as_tensor(y_scale, dtype=torch.float32))

    def forward(self, x, count, static, h, c, pool_a, pool_b, pool_c):
        network = self.network
        S = network.static_size
        if S:
            static = torch.where(count > 0, static, x[0, -S:])
            x = x[:, :-S]
        hx = (h, c) if self.lstm else h
        output, hx = self.step(network.recurrent, x[:, None], hx)
        h, c = hx if self.lstm else (hx, c)
        out = output[0]  # [shape=(1, H)]
        count = count + 1
        if self.pooling == "MeanPool":
            pool_a = pool_a + out[0]
            pooled = (pool_a / count.to(pool_a.dtype))[None]
        elif self.pooling == "MaxPool":
            pool_a = torch.maximum(pool_a, out[0])
            pooled = pool_a[None]
        elif self.pooling == "AttentionPool":
            pool = network.pool
            score = pool.score(torch.tanh(pool.project(out)))[0]  # [shape=(1,)]
            shift = torch.maximum(pool_a, score)
            rescale = torch.exp(pool_a - shift)
            weight = torch.exp(score - shift)
            pool_b = pool_b * rescale + weight * out[0]
            pool_c = pool_c * rescale + weight
            pool_a = shift
            pooled = (pool_b / pool_c)[None]
        else:  # the last output, or one output per step (tagger)
            pooled = out
        parts = [pooled, static[None]] if S else [pooled]
        raw = network.head(torch.cat(parts, dim=-1))
        if self.kind == "regressor":
            result = (raw * self.y_scale + self.y_mean,)
        else:
            result = (torch.softmax(raw, dim=-1), raw.argmax(dim=-1))
        return (*result, count, static, h, c, pool_a, pool_b, pool_c)


_LOWEST = float(np.finfo(np.float32).min)


def _stream_state_spec(estimator):
    """Name, shape and initial value of every state input of the streaming graph."""
    H, L = estimator.hidden_size, estimator.num_layers
    pooling = estimator._network_pooling()
    spec = {
        "count": ([1], 0),
        "static": ([max(estimator.n_static_features, 1)], 0.0),
        "h": ([L, 1, H], 0.0),
        "c": ([L, 1, H], 0.0),
        # Running statistics: sum (mean), maximum (max), or shift, weighted sum and
        # total of the online softmax (attention); unused entries stay as given.
        "pool_a": (
            [1] if pooling == "attention" else [H],
            # The lowest float32, not -inf: strict JSON parsers refuse infinities.
            _LOWEST if pooling in ("max", "attention") else 0.0,
        ),
        "pool_b": ([H], 0.0),
        "pool_c": ([1], 0.0),
    }
    return spec


def stream_state(estimator):
    """The initial state of the graph ``export_onnx(..., streaming=True)`` writes.

    Parameters
    ----------
    estimator : LSTMClassifier, LSTMRegressor or LSTMTagger
        The exported estimator.

    Returns
    -------
    state : dict of str to ndarray
        One entry per state input: ``count`` (int64, steps seen), ``static``,
        ``h``, ``c``, ``pool_a``, ``pool_b``, ``pool_c`` (float32): feed them
        with the first step, then feed each step the ``*_out`` outputs of the
        one before. The same names, shapes and initial values are in the
        model's metadata as JSON under ``stream_state``, for programs without
        sklstm. The running sums of mean and attention pooling are float32 in
        the graph (float64 in :meth:`~sklstm.LSTMClassifier.stream`): over
        millions of steps they drift from the PyTorch stream's.
    """
    return {
        name: np.full(shape, value, dtype=np.int64 if name == "count" else np.float32)
        for name, (shape, value) in _stream_state_spec(estimator).items()
    }


def _export_stream(estimator, path, *, kind, classifier, opset):
    if estimator.bidirectional:
        raise ValueError(
            "A bidirectional model reads each sequence from its end as well: it cannot "
            "stream. Train with bidirectional=False to export a streaming graph."
        )
    if estimator._frontend_params():
        raise ValueError(
            "Streaming export needs a model without a front end (frontend=None): the "
            "front end's convolutions read steps ahead, which estimator.stream() "
            "recomputes as they arrive but a one-step graph cannot."
        )
    graph = _StreamStepGraph(
        _fused_copy(estimator),
        kind,
        y_mean=getattr(estimator, "_y_mean", None),
        y_scale=getattr(estimator, "_y_scale", None),
    ).eval()
    state = stream_state(estimator)
    x = torch.zeros(1, estimator._n_step_features)
    names = list(state)
    outputs = (["probabilities", "label"] if classifier else ["predictions"]) + [
        f"{name}_out" for name in names
    ]
    path = Path(path)
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                (x, *(torch.from_numpy(v) for v in state.values())),
                str(tmp),
                dynamo=False,
                input_names=["x", *names],
                output_names=outputs,
                opset_version=opset,
            )
        spec = {
            n: {"shape": s, "initial": v} for n, (s, v) in _stream_state_spec(estimator).items()
        }
        entries = {"stream_state": json.dumps(spec)}
        if classifier:
            entries["classes"] = json.dumps(_jsonable(estimator.classes_))
        _add_metadata(tmp, **entries)
    return path


def _fused_copy(estimator):
    """A float32 fused network holding the estimator's weights."""
    network = SequenceNetwork(
        input_size=estimator._n_step_features,
        output_size=estimator.module_.head.out_features,
        hidden_size=estimator.hidden_size,
        num_layers=estimator.num_layers,
        bidirectional=estimator.bidirectional,
        dropout=estimator.dropout,
        cell=estimator.cell,
        backend="fused",
        pooling=estimator._network_pooling(),
        static_size=estimator.n_static_features,
        **estimator._frontend_params(),
    )
    state = {k: v.detach().float().cpu() for k, v in estimator.module_.state_dict().items()}
    network.load_state_dict(state)
    return network.eval()


def export_onnx(estimator, path, *, opset=17, streaming=False, quantize=False):
    """Write a fitted LSTMClassifier, LSTMRegressor or LSTMTagger as an ONNX model.

    Parameters
    ----------
    estimator : LSTMClassifier, LSTMRegressor or LSTMTagger
        Fitted estimator.
    path : str or path-like
        Destination ``.onnx`` file, written atomically.
    opset : int, default=17
        ONNX opset version.
    streaming : bool, default=False
        Write a one-step graph for streaming instead: inputs ``x`` float32
        ``[shape=(1, n_features)]`` (the next step of the sequence) and the
        state (:func:`stream_state` gives its initial value), outputs those of
        the whole-sequence graph for the sequence so far (``[shape=(1, ...)]``,
        as :meth:`~sklstm.LSTMClassifier.stream` gives them) followed by the
        next state (``count_out``, ``static_out``, ``h_out``...). For
        unidirectional models without a front end.
    quantize : bool, default=False
        Store the weights of the recurrent and linear layers as int8 and run
        them with int8 kernels, the activations quantized on the fly
        (onnxruntime's dynamic quantization; needs ``onnxruntime``): a file
        about four times smaller. The outputs change by the quantization
        error, so check the accuracy on held-out data.

    Returns
    -------
    path : pathlib.Path
        The written file.

    Examples
    --------
    >>> import numpy as np, onnxruntime, os, tempfile
    >>> from sklstm import LSTMClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(40, 6, 3).astype(np.float32)
    >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    >>> clf = LSTMClassifier(hidden_size=8, max_iter=10, random_state=0)
    >>> clf = clf.fit(X, y)
    >>> path = clf.to_onnx(os.path.join(tempfile.mkdtemp(), "clf.onnx"))
    >>> session = onnxruntime.InferenceSession(path)
    >>> proba, label = session.run(None, {"x": X[:2], "lengths": np.array([6, 6])})
    >>> bool(np.allclose(proba, clf.predict_proba(X[:2]), atol=1e-5))
    True
    """
    check_is_fitted(estimator, "net_")
    tagger = estimator._network_pooling() is None
    classifier = is_classifier(estimator) or tagger
    kind = "tagger" if tagger else "classifier" if classifier else "regressor"
    if quantize:
        return _quantized(estimator, path, opset=opset, streaming=streaming)
    if streaming:
        return _export_stream(estimator, path, kind=kind, classifier=classifier, opset=opset)
    graph = _ExportGraph(
        _fused_copy(estimator),
        kind,
        y_mean=getattr(estimator, "_y_mean", None),
        y_scale=getattr(estimator, "_y_scale", None),
    ).eval()
    # Two sequences whose lengths still differ after the front end's stride, so
    # that tracing takes the packed path bidirectional layers need for variable lengths.
    stride = estimator._frontend_params().get("frontend_stride", 1)
    steps = 2 * stride + 1
    x = torch.zeros(2, steps, estimator._n_step_features)
    lengths = torch.tensor([steps, stride + 1])
    outputs = ["probabilities", "label"] if classifier else ["predictions"]
    dynamic = {"x": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    per_output = {0: "batch", 1: "time"} if tagger else {0: "batch"}
    dynamic.update({name: per_output for name in outputs})
    path = Path(path)
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():
            # The TorchScript exporter (the one that maps packed sequences onto the
            # ONNX RNN operators' sequence_lens) narrates its tracing at length.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph,
                (x, lengths),
                str(tmp),
                dynamo=False,
                input_names=["x", "lengths"],
                output_names=outputs,
                dynamic_axes=dynamic,
                opset_version=opset,
            )
        if classifier:
            _add_metadata(tmp, classes=json.dumps(_jsonable(estimator.classes_)))
    return path


def _quantized(estimator, path, *, opset, streaming):
    """Export in float32 to a temporary file, then write its int8 version to ``path``."""
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = Path(path)
    with tempfile.TemporaryDirectory() as folder:
        full = export_onnx(
            estimator, Path(folder) / "float32.onnx", opset=opset, streaming=streaming
        )
        with atomic_path(path) as tmp, warnings.catch_warnings():
            # onnxruntime advises running its shape inference first, for every
            # model, on the root logger: not a message for sklstm's users.
            warnings.simplefilter("ignore")
            root = logging.getLogger()
            level = root.level
            root.setLevel(logging.ERROR)
            try:
                quantize_dynamic(str(full), str(tmp), weight_type=QuantType.QInt8)
            finally:
                root.setLevel(level)
            import onnx

            model = onnx.load(str(tmp))
            kept = {p.key: p.value for p in onnx.load(str(full)).metadata_props}
            present = {p.key for p in model.metadata_props}
            for key, value in kept.items():
                if key not in present:
                    model.metadata_props.add(key=key, value=value)
            onnx.save(model, str(tmp))
    return path


def _jsonable(classes):
    return [c.item() if isinstance(c, np.generic) else c for c in classes.tolist()]


def _add_metadata(path, **entries):
    import onnx

    model = onnx.load(str(path))
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
