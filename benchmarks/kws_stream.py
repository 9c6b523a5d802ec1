"""Live keyword spotting: ``KeywordSpotter.stream()`` against the offline ``spot``.

    python -m benchmarks.kws_stream --model FILE [--recordings N] [--chunk S] [--json FILE]

On the recordings of :mod:`benchmarks.kws_noise` (8-12 words of FSDD's held-out
takes 5-9, all speakers mixed, with pauses; in silence, white noise at 10 dB and
real noise of the test kinds at 10 dB), fed in chunks of ``--chunk`` seconds on
one thread: whether the streamed events equal the offline ones, the processing
time per second of audio (the real-time factor), and how long after the end of
each word found (and after the end of its window) its event is decided, in
audio time. ``FILE`` is a model saved by ``python -m pipelines.keyword_spotting
train``.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from .kws_noise import TEST_KINDS, _clips, _noises, _recordings

CONDITIONS = [("silence", None), ("white", 10), ("real", 10)]


def measure(spotter, *, n_recordings=10, chunk=0.1, seed=0):
    from sklstm.audio import event_scores
    from sklstm.audio._spot import _matched_events

    sr = spotter.sr
    waves, labels = _clips(set(range(5, 10)), sr)
    noises = _noises(TEST_KINDS, sr)
    step = max(1, int(round(chunk * sr)))
    results = {}
    for kind, snr in CONDITIONS:
        recordings = list(
            _recordings(waves, labels, kind, snr, noises, n=n_recordings, seed=seed, sr=sr)
        )
        name = kind if snr is None else f"{kind} {snr} dB"
        offline = [spotter.spot(y) for y, _ in recordings]
        results[name] = {"offline_f1": _f1(event_scores, offline, recordings)}
        same, busy, seconds, after_word, after_window, found = 0, 0.0, 0.0, [], [], []
        for (y, truth), expected in zip(recordings, offline):
            stream, events = spotter.stream(), []
            start = time.perf_counter()
            for i in range(0, len(y), step):
                events += stream.update(y[i : i + step])
            events += stream.finish()
            busy += time.perf_counter() - start
            seconds += len(y) / sr
            found.append(events)
            same += _same_events(events, expected)
            after_window += [e["decided"] - e["end"] for e in events]
            after_word += [e["decided"] - w["end"] for e, w in _matched_events(events, truth)]
        results[name]["stream"] = {
            "recordings_with_the_offline_events": f"{same}/{len(recordings)}",
            "f1": _f1(event_scores, found, recordings),
            "real_time_factor": round(busy / seconds, 4),
            "after_word_end_s": _quantiles(after_word),
            "after_window_end_s": _quantiles(after_window),
        }
        print(name, json.dumps(results[name]), flush=True)
    return results


def _same_events(streamed, offline):
    """The same events: times and labels equal, scores to their rounding (1e-4).

    The network reads the frames or windows in other batches when streamed,
    which may move a probability in its 6th digit and so its rounded score.
    """
    if len(streamed) != len(offline):
        return False
    for s, o in zip(streamed, offline):
        if any(s[k] != o[k] for k in o if k != "score") or abs(s["score"] - o["score"]) > 1.5e-4:
            return False
    return True


def _f1(event_scores, found, recordings):
    """Event F1 over all recordings together."""
    tp = fp = fn = 0
    for events, (_, truth) in zip(found, recordings):
        scores = event_scores(events, truth)
        tp, fp, fn = tp + scores["tp"], fp + scores["fp"], fn + scores["fn"]
    return round(2 * tp / (2 * tp + fp + fn), 3) if tp + fp + fn else 1.0


def _quantiles(values):
    if not values:
        return {}
    return {q: round(float(np.percentile(values, p)), 3) for q, p in [("p50", 50), ("p90", 90)]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kws_stream", description=__doc__)
    parser.add_argument("--model", required=True, help="a keyword-spotting model file")
    parser.add_argument("--recordings", type=int, default=10, help="per condition (10)")
    parser.add_argument("--chunk", type=float, default=0.1, help="seconds per chunk (0.1)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.recordings < 1 or not args.chunk > 0:
        parser.error("--recordings must be at least 1 and --chunk positive.")
    torch.set_num_threads(1)
    from pipelines._kws_models import load_spotter

    spotter = load_spotter(args.model)
    if getattr(spotter, "detector", "posteriors") != "posteriors":
        spotter.set_params(detector="posteriors", threshold="auto")
    results = measure(spotter, n_recordings=args.recordings, chunk=args.chunk)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
