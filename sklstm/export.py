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
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from ._atomic import atomic_path
from .nn import SequenceNetwork

__all__ = ["export_onnx"]


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


def export_onnx(estimator, path, *, opset=17):
    """Write a fitted LSTMClassifier, LSTMRegressor or LSTMTagger as an ONNX model.

    Parameters
    ----------
    estimator : LSTMClassifier, LSTMRegressor or LSTMTagger
        Fitted estimator.
    path : str or path-like
        Destination ``.onnx`` file, written atomically.
    opset : int, default=17
        ONNX opset version.

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


def _jsonable(classes):
    return [c.item() if isinstance(c, np.generic) else c for c in classes.tolist()]


def _add_metadata(path, **entries):
    import onnx

    model = onnx.load(str(path))
    for key, value in entries.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))
