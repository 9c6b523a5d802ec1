"""sklstm's speed, side by side with the alternatives, in one process.

    python -m benchmarks.run [--quick] [--repeats N] [--only a,b,...] [--json FILE]

Every comparison runs its contenders alternately on the same data and reports
the median of the repeats and the ratio of medians measured in this run: these
machines are shared, so absolute times alone say little. The machine's
single-precision matrix-multiply rate is printed as the ceiling for the LSTM's
own FLOP rate.

Benchmarks (ids as in the README's performance table):
  a  LSTMClassifier.fit vs a hand-written PyTorch loop vs skorch's NeuralNetClassifier
  b  explicit vs fused backend, training and inference
  c  length bucketing vs random batches on ragged, MFCC-like lengths
  d  predict latency of one 100-step sequence
  e  GridSearchCV with n_jobs=1 vs n_jobs=2
  f  feature extraction (MFCC clips/s, ECG beats/s) when the data are available
  g  the LSTM's training GFLOP/s against the machine's sgemm GFLOP/s
  h  streaming 50 frames/s in 100-ms chunks vs re-predicting a 1-s window per chunk
"""

import argparse
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._contenders import (
    bucketing_classifier,
    lstm_training_flops,
    plain_inference,
    plain_training_loop,
    ragged_problem,
    sklstm_classifier,
    skorch_classifier,
)

warnings.filterwarnings("ignore", category=ConvergenceWarning)

FULL = dict(
    n=2048, steps=64, features=40, hidden=128, batch=64, epochs=2, ragged_n=2048, grid_n=600
)
QUICK = dict(n=128, steps=12, features=6, hidden=16, batch=32, epochs=1, ragged_n=128, grid_n=60)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def race(contenders, repeats):
    """Run each contender ``repeats`` times, alternating; median seconds of each.

    One untimed run of each comes first: the first call of a PyTorch model pays
    for oneDNN primitive creation and memory allocation, not for training.
    """
    for fn in contenders.values():
        fn()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            times[name].append(timed(fn))
    return {name: statistics.median(ts) for name, ts in times.items()}


def sgemm_gflops(size=1024, repeats=20):
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(5):  # the first calls pay for thread start-up and page faults
        torch.mm(a, b)
    seconds = statistics.median(timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / seconds / 1e9


def bench_fit(cfg, repeats):
    """(a) Same fused network, data, batch size, optimizer and epochs."""
    rng = np.random.RandomState(0)
    X = rng.randn(cfg["n"], cfg["steps"], cfg["features"]).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    common = dict(hidden=cfg["hidden"], batch=cfg["batch"], epochs=cfg["epochs"])
    medians = race(
        {
            "plain PyTorch loop": lambda: plain_training_loop(X, y, backend="fused", **common),
            "sklstm LSTMClassifier": lambda: sklstm_classifier(X, y, backend="fused", **common),
            "skorch NeuralNetClassifier": lambda: skorch_classifier(X, y, **common),
        },
        repeats,
    )
    samples = cfg["n"] * cfg["epochs"]
    rows = {name: {"seconds": s, "samples_per_s": samples / s} for name, s in medians.items()}
    plain = rows["plain PyTorch loop"]["samples_per_s"]
    for row in rows.values():
        row["ratio_to_plain"] = row["samples_per_s"] / plain
    return rows


def bench_backends(cfg, repeats):
    """(b) Explicit vs fused, same loop and data: training and inference."""
    rng = np.random.RandomState(0)
    X = rng.randn(cfg["n"], cfg["steps"], cfg["features"]).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(np.int64)
    common = dict(hidden=cfg["hidden"], batch=cfg["batch"], epochs=1)
    train = race(
        {
            b: (lambda b=b: plain_training_loop(X, y, backend=b, **common))
            for b in ("fused", "explicit")
        },
        repeats,
    )
    infer = race(
        {
            b: (lambda b=b: plain_inference(X, backend=b, hidden=cfg["hidden"]))
            for b in ("fused", "explicit")
        },
        repeats,
    )
    return {
        "train_seconds": train,
        "inference_seconds": infer,
        "explicit_over_fused_training": train["fused"] / train["explicit"],
        "explicit_over_fused_inference": infer["fused"] / infer["explicit"],
        "train_samples_per_s": {b: cfg["n"] / s for b, s in train.items()},
    }


def bench_bucketing(cfg, repeats):
    """(c) Ragged lengths 15-230 (median 42): bucketed vs random batches."""
    X, y, X_test, y_test = ragged_problem(cfg["ragged_n"], cfg["features"])
    lengths = np.array([len(x) for x in X])
    results = {}
    models = {}
    for name, bucketing in (("bucketed", True), ("random", False)):

        def fit(bucketing=bucketing, name=name):
            models[name] = bucketing_classifier(
                X, y, bucketing=bucketing, hidden=cfg["hidden"], epochs=cfg["epochs"]
            )

        results[name] = fit
    medians = race(results, repeats)
    per_epoch = {name: s / cfg["epochs"] for name, s in medians.items()}
    return {
        "lengths": {
            "min": int(lengths.min()),
            "median": float(np.median(lengths)),
            "max": int(lengths.max()),
        },
        "epoch_seconds": per_epoch,
        "speedup": per_epoch["random"] / per_epoch["bucketed"],
        "test_accuracy": {name: float(m.score(X_test, y_test)) for name, m in models.items()},
    }


def bench_latency(cfg, repeats, n_calls=300):
    """(d) One 100-step sequence through a fitted estimator, features included."""
    from sklstm import LSTMClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(64, 100, cfg["features"]).astype(np.float32)
    y = np.arange(64) % 2
    out = {}
    for backend in ("fused", "explicit"):
        clf = LSTMClassifier(
            hidden_size=64, max_iter=1, backend=backend, frontend=None, random_state=0
        )
        clf.fit(X, y)
        one = X[:1]
        for _ in range(20):
            clf.predict(one)
        calls = []
        for _ in range(n_calls):
            start = time.perf_counter()
            clf.predict(one)
            calls.append(time.perf_counter() - start)
        calls = np.array(calls) * 1e3
        out[backend] = {
            "p50_ms": float(np.median(calls)),
            "p99_ms": float(np.percentile(calls, 99)),
        }
    return out


def bench_streaming(cfg, repeats, frame_rate=50, chunk=5, window=50):
    """(h) A keyword-spotter-sized model over a long stream of MFCC-like frames, 1 thread.

    ``stream().update`` of each 100-ms chunk gives one prediction per frame;
    the alternative without streaming, predict_proba of the last second at
    every chunk, gives one per chunk. Both as a real-time factor: processing
    seconds per second of audio. Also ``stream(n_streams=16)``: sixteen
    streams side by side in one batched computation, per stream.
    """
    from sklstm import LSTMClassifier

    rng = np.random.RandomState(0)
    n_frames = 3000 if cfg is FULL else 300
    X = rng.randn(64, window, 13).astype(np.float32)
    y = np.arange(64) % 2
    sequence = rng.randn(n_frames, 13).astype(np.float32)
    n_side = 16
    side = rng.randn(n_side, n_frames, 13).astype(np.float32)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        for frontend in (None, "conv"):
            clf = LSTMClassifier(
                hidden_size=cfg["hidden"], pooling="max", max_iter=1, frontend=frontend,
                random_state=0,
            ).fit(X, y)  # fmt: skip

            def streamed(clf=clf):
                stream = clf.stream()
                for i in range(0, n_frames, chunk):
                    stream.update(sequence[i : i + chunk])

            def windowed(clf=clf):
                for i in range(chunk, n_frames + 1, chunk):
                    clf.predict_proba([sequence[max(0, i - window) : i]])

            def side_by_side(clf=clf):
                stream = clf.stream(n_streams=n_side)
                for i in range(0, n_frames, chunk):
                    stream.update(side[:, i : i + chunk])

            medians = race({"stream": streamed, "window": windowed, "side": side_by_side}, repeats)
            audio = n_frames / frame_rate
            out[str(frontend)] = {
                "stream_rtf": medians["stream"] / audio,
                "window_rtf": medians["window"] / audio,
                "stream_us_per_frame": 1e6 * medians["stream"] / n_frames,
                "side_by_side_rtf_per_stream": medians["side"] / (n_side * audio),
            }
    finally:
        torch.set_num_threads(threads)
    return out


def bench_grid_search(cfg, repeats):
    """(e) 4 candidates x 3 folds; workers must not oversubscribe the cores."""
    from sklearn.model_selection import GridSearchCV

    from sklstm import LSTMClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(cfg["grid_n"], 50, 20).astype(np.float32)
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    grid = {"hidden_size": [32, 64], "learning_rate_init": [1e-3, 3e-3]}

    def search(n_jobs):
        est = LSTMClassifier(max_iter=3, random_state=0)
        GridSearchCV(est, grid, cv=3, n_jobs=n_jobs).fit(X, y)

    search(2)  # start the worker processes once, as any later search would find them
    medians = race({"n_jobs=1": lambda: search(1), "n_jobs=2": lambda: search(2)}, repeats)
    return {"seconds": medians, "speedup": medians["n_jobs=1"] / medians["n_jobs=2"]}


def bench_features(cfg, repeats):
    """(f) Feature extraction throughput, where the feature families and data exist."""
    from ._contenders import ecg_beats_per_second, mfcc_clips_per_second

    return {"mfcc": mfcc_clips_per_second(repeats), "ecg": ecg_beats_per_second(repeats)}


def bench_flops(cfg, backend_rows, ceiling):
    """(g) Achieved training GFLOP/s of the LSTM over the sgemm rate."""
    flops = lstm_training_flops(cfg["steps"], cfg["features"], cfg["hidden"])
    out = {"sgemm_gflops": ceiling}
    for backend, rate in backend_rows["train_samples_per_s"].items():
        gflops = flops * rate / 1e9
        out[f"{backend}_training_gflops"] = gflops
        out[f"{backend}_fraction_of_sgemm"] = gflops / ceiling
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI smoke test)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="abcdefgh", help="benchmark ids to run, e.g. 'ab'")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results.json"))
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    only = set(args.only.replace(",", ""))
    results = {
        "machine": {
            "platform": platform.platform(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "sgemm_gflops": sgemm_gflops(),
        },
        "config": cfg,
        "repeats": args.repeats,
    }
    machine = results["machine"]
    print(f"sgemm: {machine['sgemm_gflops']:.1f} GFLOP/s, {machine['threads']} threads")
    if "a" in only:
        results["a_fit"] = bench_fit(cfg, args.repeats)
    if "b" in only or "g" in only:
        results["b_backends"] = bench_backends(cfg, args.repeats)
    if "c" in only:
        results["c_bucketing"] = bench_bucketing(cfg, args.repeats)
    if "d" in only:
        results["d_latency"] = bench_latency(cfg, args.repeats)
    if "e" in only:
        results["e_grid_search"] = bench_grid_search(cfg, max(1, args.repeats // 2))
    if "f" in only:
        results["f_features"] = bench_features(cfg, args.repeats)
    if "g" in only:
        results["g_flops"] = bench_flops(
            cfg, results["b_backends"], results["machine"]["sgemm_gflops"]
        )
    if "h" in only:
        results["h_streaming"] = bench_streaming(cfg, args.repeats)
    print(format_table(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")
    return results


def format_table(results):
    rows = [("#", "measure", "result", "target")]
    if "a_fit" in results:
        for name, row in results["a_fit"].items():
            rows.append(
                (
                    "a",
                    f"fit {name}",
                    f"{row['samples_per_s']:.0f} samples/s ({row['ratio_to_plain']:.2f}x plain)",
                    ">= 0.95x plain" if name.startswith("sklstm") else "",
                )
            )
    if "b_backends" in results:
        b = results["b_backends"]
        rows.append(
            (
                "b",
                "explicit / fused, training",
                f"{b['explicit_over_fused_training']:.2f}",
                ">= 0.6",
            )
        )
        rows.append(
            ("b", "explicit / fused, inference", f"{b['explicit_over_fused_inference']:.2f}", "")
        )
    if "c_bucketing" in results:
        c = results["c_bucketing"]
        acc = c["test_accuracy"]
        rows.append(
            (
                "c",
                "bucketing speedup per epoch",
                f"{c['speedup']:.2f}x (acc {acc['bucketed']:.3f} vs {acc['random']:.3f})",
                ">= 1.5x, same accuracy",
            )
        )
    if "d_latency" in results:
        for backend, d in results["d_latency"].items():
            rows.append(
                (
                    "d",
                    f"predict 1x100 steps ({backend})",
                    f"p50 {d['p50_ms']:.2f} ms, p99 {d['p99_ms']:.2f} ms",
                    "p50 < 2 ms" if backend == "fused" else "",
                )
            )
    if "e_grid_search" in results:
        e = results["e_grid_search"]
        rows.append(("e", "GridSearchCV n_jobs=2 speedup", f"{e['speedup']:.2f}x", ">= 1.05x"))
    if "f_features" in results:
        targets = {"mfcc": "2,700 clips <= 1 s", "ecg": "DS1 <= 3 s"}
        for name, f in results["f_features"].items():
            rows.append(("f", f"{name} extraction", f.get("summary", "n/a"), targets[name]))
    if "g_flops" in results:
        g = results["g_flops"]
        for backend in ("fused", "explicit"):
            rows.append(
                (
                    "g",
                    f"{backend} LSTM training GFLOP/s",
                    f"{g[backend + '_training_gflops']:.1f} "
                    f"({g[backend + '_fraction_of_sgemm']:.2f} of sgemm {g['sgemm_gflops']:.0f})",
                    "reported",
                )
            )
    if "h_streaming" in results:
        for frontend, h in results["h_streaming"].items():
            front = "no front end" if frontend == "None" else "conv front end"
            rows.append(
                (
                    "h",
                    f"stream 100-ms chunks, 1 thread ({front})",
                    f"RTF {h['stream_rtf']:.4f} ({h['stream_us_per_frame']:.0f} us/frame); "
                    f"1-s window per chunk {h['window_rtf']:.4f}; 16 streams side by side "
                    f"{h['side_by_side_rtf_per_stream']:.4f} each",
                    "<= 0.05",
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
