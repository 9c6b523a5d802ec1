"""The contenders the benchmark races: sklstm, a plain PyTorch loop, skorch."""

import time

import numpy as np
import torch
from skorch import NeuralNetClassifier

from sklstm import LSTMClassifier
from sklstm.nn import SequenceNetwork

LEARNING_RATE = 1e-3


def _network(features, hidden, backend, n_classes=2):
    return SequenceNetwork(
        input_size=features, output_size=n_classes, hidden_size=hidden, backend=backend
    )


def plain_training_loop(X, y, *, hidden, batch, epochs, backend, seed=0):
    """What users write by hand: shuffle, slice, forward, cross-entropy, Adam."""
    torch.manual_seed(seed)
    n, steps, features = X.shape
    net = _network(features, hidden, backend)
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    lengths = torch.full((batch,), steps)
    rng = np.random.RandomState(seed)
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(n))
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            x = X_t[idx].transpose(0, 1).contiguous()
            loss = torch.nn.functional.cross_entropy(net(x, lengths[: len(idx)]), y_t[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net


def plain_inference(X, *, hidden, backend, batch=512, seed=0):
    torch.manual_seed(seed)
    n, steps, features = X.shape
    net = _network(features, hidden, backend).eval()
    X_t = torch.from_numpy(X)
    with torch.inference_mode():
        for start in range(0, n, batch):
            x = X_t[start : start + batch].transpose(0, 1).contiguous()
            net(x, torch.full((x.shape[1],), steps))


def sklstm_classifier(X, y, *, hidden, batch, epochs, backend, seed=0):
    """LSTMClassifier with the plain loop's settings (no penalty, no early stop)."""
    return LSTMClassifier(
        hidden_size=hidden,
        batch_size=batch,
        max_iter=epochs,
        learning_rate_init=LEARNING_RATE,
        alpha=0.0,
        n_iter_no_change=epochs + 1,
        backend=backend,
        random_state=seed,
        # The plain loop's network and rate: the recurrent layers alone, last state.
        frontend=None,
        pooling="last",
        learning_rate="constant",
        input_noise=0.0,
    ).fit(X, y)


class _BatchFirst(torch.nn.Module):
    """skorch feeds batch-first tensors; the network is time-major with lengths."""

    def __init__(self, features, hidden):
        super().__init__()
        self.net = _network(features, hidden, "fused")

    def forward(self, X):
        lengths = torch.full((X.shape[0],), X.shape[1])
        return self.net(X.transpose(0, 1), lengths)


def skorch_classifier(X, y, *, hidden, batch, epochs, seed=0):
    """skorch's NeuralNetClassifier as its documentation sets it up."""
    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        _BatchFirst,
        module__features=X.shape[2],
        module__hidden=hidden,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=LEARNING_RATE,
        batch_size=batch,
        max_epochs=epochs,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )
    return net.fit(X, y)


def ragged_problem(n, features, seed=0):
    """Lengths like spoken-word MFCC frames: 15 to 230, median about 42."""
    rng = np.random.RandomState(seed)
    lengths = np.clip(np.round(rng.lognormal(np.log(42), 0.55, size=2 * n)), 15, 230).astype(int)
    X = [rng.randn(L, features).astype(np.float32) for L in lengths]
    for x in X:
        x[:, 0] += rng.choice([-0.3, 0.3])
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    return X[:n], y[:n], X[n:], y[n:]


class _RandomBatchClassifier(LSTMClassifier):
    """LSTMClassifier with bucketing switched off: random batches, each padded to its longest."""

    def _build_net(self, *args, **kwargs):
        net = super()._build_net(*args, **kwargs)
        net.iterator_train__pool_batches = 1
        return net


def bucketing_classifier(X, y, *, bucketing, hidden, epochs, seed=0):
    cls = LSTMClassifier if bucketing else _RandomBatchClassifier
    return cls(
        hidden_size=hidden,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        batch_size=64,
        frontend=None,
        pooling="last",
        input_noise=0.0,
        random_state=seed,
    ).fit(X, y)


def lstm_training_flops(steps, features, hidden):
    """Matrix-multiply FLOPs of one sequence's forward and backward pass (about 3x forward)."""
    forward = 2 * steps * (features * 4 * hidden + hidden * 4 * hidden)
    return 3 * forward


def _median_seconds(fn, repeats):
    fn()  # warm: files in the page cache, filterbanks built
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def mfcc_clips_per_second(repeats):
    """MFCCs of every FSDD clip in the data home, read from the files."""
    from sklstm.audio import MFCC
    from sklstm.datasets import get_data_home

    clips = sorted((get_data_home() / "fsdd" / "recordings").glob("*.wav"))
    if not clips:
        return {"summary": "n/a (no FSDD clips in the data home)"}
    mfcc = MFCC().fit(clips[:1])
    seconds = _median_seconds(lambda: mfcc.transform(clips), repeats)
    return {
        "clips": len(clips),
        "seconds": seconds,
        "clips_per_s": len(clips) / seconds,
        "summary": f"{len(clips)} clips in {seconds:.2f} s ({len(clips) / seconds:.0f} clips/s)",
    }


def ecg_beats_per_second(repeats):
    """Beats of the DS1 records in the data home: reading, filtering, windows, RR features."""
    from sklstm.datasets import get_data_home
    from sklstm.ecg import DS1, load_beats

    folder = get_data_home() / "mitdb"
    records = [r for r in DS1 if (folder / f"{r}.hea").is_file()]
    if not records:
        return {"summary": "n/a (no MIT-BIH records in the data home)"}
    n_beats = len(load_beats(folder, records).y)
    seconds = _median_seconds(lambda: load_beats(folder, records), repeats)
    return {
        "records": len(records),
        "beats": n_beats,
        "seconds": seconds,
        "beats_per_s": n_beats / seconds,
        "summary": f"{n_beats} beats of {len(records)} records in {seconds:.2f} s "
        f"({n_beats / seconds:.0f} beats/s)",
    }
