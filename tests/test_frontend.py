"""The convolutional front end: lengths, masking, backends, estimators, export and files."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from _model_files import rewrite_without

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor, LSTMTagger
from sklstm._base import FRONTEND_AUTO_MIN_LENGTH, FRONTEND_TARGET_STEPS
from sklstm.nn import (
    ConvFrontEnd,
    MaskedBatchNorm,
    NetworkStream,
    SequenceNetwork,
    default_kernels,
)
from sklstm.nn.frontend import WIDE_STRIDE, three_block_kernels

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _padded(sequences):
    """Time-major padded tensor and lengths of a list of ``(T_i, F)`` arrays."""
    lengths = torch.tensor([len(s) for s in sequences])
    x = torch.zeros(int(lengths.max()), len(sequences), sequences[0].shape[1])
    for b, s in enumerate(sequences):
        x[: len(s), b] = torch.as_tensor(s)
    return x, lengths


def _trained_batch_norm(frontend, x, lengths):
    """Move the running statistics away from (0, 1) with a few training passes."""
    frontend.train()
    with torch.no_grad():
        for _ in range(3):
            frontend(x, lengths)
    return frontend.eval()


@pytest.mark.parametrize("stride", [1, 2, 3, 7])
def test_output_lengths_are_ceil_of_length_over_stride_and_padding_is_zero(stride):
    frontend = ConvFrontEnd(2, channels=5, stride=stride)
    x, lengths = _padded([np.ones((n, 2)) for n in (1, 2, 13, 20)])
    out, out_lengths = frontend(x, lengths)
    expected = [-(-n // stride) for n in (1, 2, 13, 20)]
    assert out_lengths.tolist() == expected
    assert out.shape == (max(expected), 4, 5)
    for b, n in enumerate(expected):
        assert torch.all(out[n:, b] == 0)


def test_masked_batch_norm_uses_the_valid_steps_only():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 6)  # (B, C, T)
    lengths = torch.tensor([6, 2, 4])
    mask = (torch.arange(6) < lengths[:, None]).unsqueeze(1).float()
    garbage = x.masked_fill(mask == 0, 1e3)  # padding must not move the statistics
    norm, reference = MaskedBatchNorm(4), torch.nn.BatchNorm1d(4)
    valid = torch.cat([x[b, :, :n] for b, n in enumerate(lengths.tolist())], dim=1)
    out = norm(garbage, mask)
    expected = reference(valid.unsqueeze(0))[0]
    got = torch.cat([out[b, :, :n] for b, n in enumerate(lengths.tolist())], dim=1)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(norm.running_mean, reference.running_mean)
    torch.testing.assert_close(norm.running_var, reference.running_var)
    norm.eval(), reference.eval()
    torch.testing.assert_close(norm(x, mask), reference(x))


@pytest.mark.parametrize(
    "stride, expected",
    [
        (1, (7, 5, 3)),
        (6, (7, 7, 3)),
        (7, (7, 7, 3)),
        (8, (9, 9, 3, 3)),
        (9, (9, 9, 3, 3)),
        (32, (33, 33, 3, 3)),
    ],
)
def test_default_kernels_widen_and_deepen_from_stride_8_on(stride, expected):
    assert default_kernels(stride) == expected
    frontend = ConvFrontEnd(2, channels=4, stride=stride)
    assert frontend.kernels == expected
    assert [conv.kernel_size[0] for conv in frontend.convs] == list(expected)
    assert [conv.stride[0] for conv in frontend.convs] == [1, stride, *[1] * (len(expected) - 2)]
    assert three_block_kernels(stride) == (7, expected[1], 3)
    assert (len(expected) == 4) == (stride >= WIDE_STRIDE)


@pytest.mark.parametrize("backend", ["explicit", "fused"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("stride", [1, 3, 12])
def test_a_sequence_gives_the_same_output_alone_or_batched_with_longer_ones(
    backend, bidirectional, stride
):
    torch.manual_seed(0)
    rng = np.random.RandomState(0)
    sequences = [rng.randn(n, 3).astype(np.float32) for n in (5, 40, 17, 64, 1, 33, 150)]
    net = SequenceNetwork(
        input_size=3,
        output_size=2,
        hidden_size=6,
        bidirectional=bidirectional,
        backend=backend,
        pooling="mean",
        frontend="conv",
        frontend_channels=8,
        frontend_stride=stride,
    )
    x, lengths = _padded(sequences)
    _trained_batch_norm(net.frontend, x, lengths)
    net.eval()
    with torch.inference_mode():
        batched = net(x, lengths)
        for b, s in enumerate(sequences):
            alone = net(*_padded([s]))
            torch.testing.assert_close(alone[0], batched[b], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_both_backends_give_the_same_outputs_and_gradients_behind_the_front_end(cell):
    torch.manual_seed(0)
    kwargs = dict(
        input_size=2, output_size=3, hidden_size=5, cell=cell, bidirectional=True,
        frontend="conv", frontend_channels=4, frontend_stride=2,
    )  # fmt: skip
    fused = SequenceNetwork(backend="fused", **kwargs)
    explicit = SequenceNetwork(backend="explicit", **kwargs)
    explicit.load_state_dict(fused.state_dict())
    x, lengths = _padded([np.random.RandomState(n).randn(n, 2) for n in (9, 4, 12)])
    outputs = []
    for net in (fused, explicit):
        out = net(x, lengths)
        out.square().sum().backward()
        outputs.append((out, net.frontend.convs[0].weight.grad))
    torch.testing.assert_close(outputs[0][0], outputs[1][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(outputs[0][1], outputs[1][1], atol=1e-5, rtol=1e-5)


def _long_ragged(n=24, seed=0):
    rng = np.random.RandomState(seed)
    X = [
        np.cumsum(rng.randn(rng.randint(70, 200), 2), axis=0).astype(np.float32) for _ in range(n)
    ]
    y = np.array([int(x[-1, 0] > x[0, 0]) for x in X])
    return X, y


def test_auto_front_end_follows_the_documented_rule():
    X, y = _long_ragged()
    clf = LSTMClassifier(hidden_size=4, max_iter=1, random_state=0).fit(X, y)
    longest = max(len(x) for x in X)
    assert clf.frontend_ == "conv"
    assert clf.frontend_stride_ == -(-longest // FRONTEND_TARGET_STEPS)
    assert clf.module_.frontend is not None
    short = [x[: FRONTEND_AUTO_MIN_LENGTH - 1] for x in X]
    clf = LSTMClassifier(hidden_size=4, max_iter=1, random_state=0).fit(short, y)
    assert clf.frontend_ is None and clf.module_.frontend is None
    clf = LSTMClassifier(hidden_size=4, max_iter=1, frontend=None).fit(X, y)
    assert clf.frontend_ is None
    clf = LSTMClassifier(hidden_size=4, max_iter=1, frontend="conv").fit(short, y)
    assert clf.frontend_ == "conv" and clf.frontend_stride_ == 1


@pytest.mark.parametrize("backend", ["explicit", "fused"])
def test_estimator_predictions_do_not_depend_on_the_batch(backend):
    X, y = _long_ragged()
    clf = LSTMClassifier(
        hidden_size=6, max_iter=3, backend=backend, bidirectional=True, random_state=0
    ).fit(X, y)
    batched = clf.predict_proba(X)
    for i in (0, 5, 11):
        np.testing.assert_allclose(clf.predict_proba([X[i]])[0], batched[i], atol=1e-6)


def test_front_end_model_round_trips_through_a_model_file(tmp_path):
    X, y = _long_ragged()
    reg = LSTMRegressor(hidden_size=6, max_iter=3, random_state=0).fit(X, y.astype(float))
    sklstm.save(reg, tmp_path / "reg.sklstm")
    loaded = sklstm.load(tmp_path / "reg.sklstm")
    assert loaded.frontend_ == "conv" and loaded.frontend_stride_ == reg.frontend_stride_
    assert loaded.frontend_kernels_ == default_kernels(reg.frontend_stride_)
    assert loaded.frontend_kernels_ == reg.frontend_kernels_
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


def test_models_fitted_with_the_three_block_front_end_keep_it(tmp_path, monkeypatch):
    # What a model file written before the four-block layout holds: three blocks'
    # weights at a stride that now gets four, and no frontend_kernels_.
    X, y = _long_ragged(n=12)
    X[0] = np.cumsum(np.random.RandomState(1).randn(600, 2), axis=0).astype(np.float32)
    with monkeypatch.context() as patch:
        patch.setattr("sklstm._base.default_kernels", three_block_kernels)
        clf = LSTMClassifier(hidden_size=6, max_iter=2, random_state=0).fit(X, y)
    assert clf.frontend_stride_ >= WIDE_STRIDE and len(clf.module_.frontend.convs) == 3
    expected = clf.predict_proba(X)
    del clf.frontend_kernels_
    sklstm.save(clf, tmp_path / "old.sklstm")
    loaded = sklstm.load(tmp_path / "old.sklstm")
    assert loaded.module_.frontend.kernels == three_block_kernels(clf.frontend_stride_)
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    loaded.partial_fit(X, y)  # training goes on with the same layout
    assert len(loaded.module_.frontend.convs) == 3
    refitted = LSTMClassifier(hidden_size=6, max_iter=1, random_state=0).fit(X, y)
    assert refitted.frontend_kernels_ == default_kernels(clf.frontend_stride_)
    assert len(refitted.module_.frontend.convs) == 4


def test_the_front_ends_width_is_a_parameter_kept_by_model_files(tmp_path):
    assert LSTMClassifier().frontend_channels == LSTMRegressor().frontend_channels == 128
    assert LSTMTagger().frontend_channels == 64
    X, y = _long_ragged()
    clf = LSTMClassifier(hidden_size=4, frontend_channels=8, max_iter=2, random_state=0)
    clf.fit(X, y)
    assert clf.frontend_channels_ == clf.module_.frontend.channels == 8
    assert all(conv.out_channels == 8 for conv in clf.module_.frontend.convs)
    # The head reads the pooled recurrent output and the mean of the 8 channels.
    assert clf.module_.head.in_features == 4 + 8
    sklstm.save(clf, tmp_path / "clf.sklstm")
    loaded = sklstm.load(tmp_path / "clf.sklstm")
    assert loaded.frontend_channels == 8
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # Fixed at the first fit: a width set since changes neither files, export nor training.
    clf.set_params(frontend_channels=16)
    sklstm.save(clf, tmp_path / "later.sklstm")
    np.testing.assert_array_equal(
        sklstm.load(tmp_path / "later.sklstm").predict_proba(X), clf.predict_proba(X)
    )
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.frontend_channels_ == clf.module_.frontend.channels == 8
    with pytest.raises(ValueError, match="frontend_channels"):
        LSTMClassifier(frontend_channels=0).fit(X, y)


def test_models_fitted_before_the_width_was_a_parameter_keep_64_channels(tmp_path):
    X, y = _long_ragged(n=12)
    clf = LSTMClassifier(hidden_size=4, frontend_channels=64, max_iter=2, random_state=0)
    clf.fit(X, y)
    expected = clf.predict_proba(X)
    sklstm.save(clf, tmp_path / "old.sklstm")
    rewrite_without(tmp_path / "old.sklstm", {"frontend_channels", "frontend_channels_"})
    loaded = sklstm.load(tmp_path / "old.sklstm")
    assert loaded.frontend_channels == 64 and loaded.module_.frontend.channels == 64
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    del clf.__dict__["frontend_channels"]  # as such a model was pickled
    del clf.__dict__["frontend_channels_"]
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.frontend_channels == 64
    restored.set_params(warm_start=True).fit(X, y)  # training goes on at its width
    assert restored.module_.frontend.channels == 64


@pytest.mark.parametrize("kernels", [None, (7, 13, 3), (15, 13, 5, 3, 3)])
def test_a_stream_through_any_layout_gives_the_whole_sequence_outputs(kernels):
    torch.manual_seed(0)
    net = SequenceNetwork(
        input_size=2,
        output_size=3,
        hidden_size=5,
        pooling="mean",
        frontend="conv",
        frontend_channels=4,
        frontend_stride=12,
        frontend_kernels=kernels,
    ).eval()
    x = torch.randn(200, 2)
    stream = NetworkStream(net)
    rows = torch.cat([stream.update(x[i : i + 7]) for i in range(0, len(x), 7)])
    with torch.inference_mode():
        for t in (0, 11, 12, 50, 199):
            whole = net(x[: t + 1, None], torch.tensor([t + 1]))
            torch.testing.assert_close(rows[t], whole[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_onnx_export_with_a_strided_front_end_matches_predict(bidirectional, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = _long_ragged()
    clf = LSTMClassifier(
        hidden_size=6, max_iter=3, bidirectional=bidirectional, random_state=0
    ).fit(X, y)
    assert clf.frontend_stride_ > 1
    session = ort.InferenceSession(str(clf.to_onnx(tmp_path / "clf.onnx")))
    x, lengths = _padded(X)
    proba, _ = session.run(
        None, {"x": x.transpose(0, 1).numpy(), "lengths": lengths.numpy().astype(np.int64)}
    )
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)


def test_static_features_bypass_the_front_end():
    X, y = _long_ragged()
    X = [np.column_stack([x, np.full(len(x), float(label))]) for x, label in zip(X, y)]
    clf = LSTMClassifier(hidden_size=4, max_iter=2, n_static_features=1, random_state=0)
    clf.fit(X, y)
    assert clf.module_.frontend.input_size == 2
    assert clf.module_.head.in_features == 4 + clf.frontend_channels + 1


@pytest.mark.parametrize("norm", [None, "layer", "batch"])
def test_front_end_features_of_a_sequence_do_not_depend_on_its_batch(norm):
    torch.manual_seed(0)
    rng = np.random.RandomState(1)
    sequences = [rng.randn(n, 2).astype(np.float32) for n in (3, 50, 21, 8)]
    frontend = ConvFrontEnd(2, channels=6, stride=4, norm=norm)
    x, lengths = _padded(sequences)
    _trained_batch_norm(frontend, x, lengths)
    with torch.inference_mode():
        batched, out_lengths = frontend(x, lengths)
        for b, s in enumerate(sequences):
            alone, (n,) = frontend(*_padded([s]))
            assert n == out_lengths[b]
            torch.testing.assert_close(alone[:n, 0], batched[:n, b], atol=1e-6, rtol=1e-6)


def test_unpadded_batches_skip_the_masks_but_exported_graphs_keep_them(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    frontend = ConvFrontEnd(2, channels=6, stride=4).eval()
    rng = np.random.RandomState(0)
    full = [rng.randn(30, 2).astype(np.float32) for _ in range(3)]
    x, lengths = _padded(full)
    ragged_x, ragged_lengths = _padded([full[0], full[1][:13], full[2][:5]])
    ragged_x[13:, 1] = 7.0  # padding that the masks must hide
    with torch.inference_mode():
        # All sequences fill the batch: the masks are skipped, the outputs are the same.
        batched, _ = frontend(x, lengths)
        for b, s in enumerate(full):
            alone, _ = frontend(*_padded([s]))
            torch.testing.assert_close(alone[:, 0], batched[:, b], atol=1e-6, rtol=1e-6)
        expected, expected_lengths = frontend(ragged_x, ragged_lengths)
    # Exported from a batch without padding, the graph still masks the padding of others.
    path = tmp_path / "frontend.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's narration
        torch.onnx.export(
            frontend,
            (x, lengths),
            str(path),
            dynamo=False,
            input_names=["x", "lengths"],
            output_names=["features", "out_lengths"],
            dynamic_axes={"x": {0: "time", 1: "batch"}, "lengths": {0: "batch"}},
        )
    session = ort.InferenceSession(str(path))
    out, out_lengths = session.run(
        None, {"x": ragged_x.numpy(), "lengths": ragged_lengths.numpy().astype(np.int64)}
    )
    np.testing.assert_array_equal(out_lengths, expected_lengths.numpy())
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-6, rtol=1e-6)


def test_front_end_refuses_bad_settings_by_name():
    with pytest.raises(ValueError, match="stride must be at least 1"):
        ConvFrontEnd(2, stride=0)
    with pytest.raises(ValueError, match="norm must be 'layer', 'batch' or None"):
        ConvFrontEnd(2, norm="group")
    for kernels in [(7,), (7, 4, 3), (7, 5, 0), (7, 3, 3), (True, 5), (7.0, 5)]:
        with pytest.raises(ValueError, match="kernels must be at least two odd sizes"):
            ConvFrontEnd(2, stride=5, kernels=kernels)
    assert ConvFrontEnd(2, stride=5, kernels=np.array([9, 5])).kernels == (9, 5)


def test_front_ends_pickled_before_kernels_existed_get_their_layout_back():
    import pickle

    frontend = ConvFrontEnd(2, channels=4, stride=3, kernels=three_block_kernels(3))
    del frontend.__dict__["kernels"]  # what a front end pickled by an older sklstm holds
    restored = pickle.loads(pickle.dumps(frontend))
    assert restored.kernels == (7, 5, 3)
    with pytest.raises(ValueError, match="frontend must be None or 'conv'"):
        SequenceNetwork(input_size=2, output_size=2, frontend="rocket")


def test_he_initialization_keeps_the_scale_of_the_features_through_the_blocks():
    torch.manual_seed(0)
    frontend = ConvFrontEnd(3, channels=64, stride=32)  # four blocks
    for conv in frontend.convs:
        fan_in = conv.in_channels * conv.kernel_size[0]
        assert torch.all(conv.bias == 0)
        assert conv.weight.std().item() == pytest.approx(np.sqrt(2 / fan_in), rel=0.05)
    # Unit-variance input: the last block's mean square stays of the input's order
    # (torch's default initialization divides it by 4 to 6 per block: 0.003 here).
    x = torch.randn(2000, 16, 3)
    with torch.no_grad():
        out, _ = frontend(x, torch.full((16,), 2000))
    assert 0.3 < out.pow(2).mean().item() < 3
