"""``monitor``: classify the beats of records as if their signal arrived live.

Each record's lead is fed to :class:`sklstm.ecg.ArrhythmiaMonitor` a chunk at a
time (``--chunk-ms``), read from its file a minute at a time (a 24-hour Holter
record takes the memory of the monitor's history: 30 minutes by default, 5 for a
causal model). Every
beat is printed as one JSON line as soon as the monitor decides it, and a summary
per record (beats, latency, processing time against signal time) goes to
standard error.
``--realtime`` paces the chunks to the wall clock, as a recorder would deliver
them.
"""

import argparse
import json
import sys
import time

import numpy as np

from sklstm.ecg import RecordError, read_signal
from sklstm.ecg._records import _open_lead

#: Seconds of signal read from the file at once, then fed chunk by chunk.
_BLOCK_SECONDS = 60.0


def add_arguments(p):
    p.add_argument(
        "--chunk-ms",
        type=_positive_float,
        default=100.0,
        help="milliseconds of signal fed at a time (default 100)",
    )
    p.add_argument(
        "--lookahead",
        type=_positive_float,
        help="seconds of signal after a beat before it is classified (at least 0.5, and "
        "the model's window after the R peak plus 0.05; default: that least for a model "
        "trained with --causal, else 20)",
    )
    p.add_argument(
        "--history",
        type=_positive_float,
        help="seconds of signal each decision reads (default 300 for a causal model, else 1800)",
    )
    p.add_argument(
        "--interval",
        type=_positive_float,
        help="seconds of signal between decisions (default 0.5 for a causal model, else 2)",
    )
    p.add_argument(
        "--realtime", action="store_true", help="feed the chunks at the pace of the recording"
    )


def settings(args, model):
    """The monitor settings given (the others are the model's), checked before any record
    is read."""
    given = {
        name: getattr(args, name)
        for name in ("lookahead", "history", "interval")
        if getattr(args, name) is not None
    }
    try:
        # The checks do not depend on the record's rate, any valid one will do.
        model.monitor(fs=360.0, **given)
    except ValueError as exc:
        own = model.monitor(fs=360.0)  # the model's own defaults are always valid
        raise SystemExit(
            f"error: {exc} (the model's defaults, for the settings not given: --lookahead "
            f"{own.lookahead:g} --history {own.history:g} --interval {own.interval:g})"
        ) from None
    return given


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def monitor_record(model, path, args, out=None):
    """Stream one record through a monitor, print its beats; returns the summary dict."""
    out = sys.stdout if out is None else out
    head, _, _ = _open_lead(path, model.lead)
    fs = float(head.fs)
    # A header without the signal's length: the lead is read whole to learn it.
    whole = None if head.sig_len else read_signal(path, lead=model.lead)[0]
    n_total = int(head.sig_len) if whole is None else len(whole)
    monitor = model.monitor(fs=fs, **settings(args, model))
    chunk = max(1, round(args.chunk_ms / 1000 * fs))
    block = max(chunk, round(_BLOCK_SECONDS * fs) // chunk * chunk)
    name = path.name
    busy = 0.0
    latencies = []
    counts = {}
    started = time.perf_counter()

    def emit(beats):
        for sample, cls, proba, decided in zip(
            beats.samples, beats.pred, beats.proba, beats.decided
        ):
            latency = (decided - sample) / fs
            latencies.append(latency)
            counts[str(cls)] = counts.get(str(cls), 0) + 1
            line = {
                "record": name,
                "sample": int(sample),
                "time_s": round(sample / fs, 3),
                "class": str(cls),
                "probability": round(float(proba.max()), 4),
                "latency_s": round(latency, 3),
            }
            out.write(json.dumps(line) + "\n")
        out.flush()

    for start in range(0, n_total, block):
        stop = min(start + block, n_total)
        if whole is None:
            signal, _ = read_signal(path, lead=model.lead, start=start, stop=stop)
        else:
            signal = whole[start:stop]
        for k in range(0, len(signal), chunk):
            piece = signal[k : k + chunk]
            if args.realtime:
                due = started + (start + k + len(piece)) / fs
                time.sleep(max(0.0, due - time.perf_counter()))
            t0 = time.perf_counter()
            beats = monitor.update(piece)
            busy += time.perf_counter() - t0
            emit(beats)
    t0 = time.perf_counter()
    beats = monitor.flush()
    busy += time.perf_counter() - t0
    emit(beats)
    if len(latencies) < 2:
        raise RecordError(f"{path}: fewer than two beats detected in {n_total / fs:.1f} s.")
    # The beats of the flush were decided at the end of the recording, not after
    # the lookahead: the latency figures are those of the beats decided live.
    live = np.asarray(latencies[: len(latencies) - len(beats.samples)])
    return {
        "record": name,
        "fs": fs,
        "n_beats": len(latencies),
        "beats_per_class": dict(sorted(counts.items())),
        "latency_s_p50": float(np.median(live)) if len(live) else None,
        "latency_s_max": float(live.max()) if len(live) else None,
        "processing_per_signal_second": busy / (n_total / fs),
    }


def format_summary(s):
    classes = ", ".join(f"{k} {v}" for k, v in s["beats_per_class"].items())
    latency = "" if s["latency_s_p50"] is None else (
        f"latency p50 {s['latency_s_p50']:.2f} s (max {s['latency_s_max']:.2f} s), "
    )  # fmt: skip
    return (
        f"{s['record']}: {s['n_beats']} beats ({classes}), {latency}"
        f"processing {s['processing_per_signal_second']:.3f} s per second of signal"
    )
