"""Honest validation of the keyword spotter: held-out takes, unseen speakers, noise, spotting.

``python -m pipelines.keyword_spotting crossval --data DIR`` trains on each
split with the settings of ``train`` and scores the held-out clips:

- accuracy on the clean clips, and with white noise at 10 dB and 0 dB SNR;
- spotting event F1 on recordings of one speaker's held-out clips separated by
  0.3-1.5 s of silence, or the same in white noise at 10 dB SNR (an event counts
  when its label matches a word it overlaps);
- false alarms in a minute of white noise and a minute of near-silence.

Splits: ``holdout`` keeps the takes whose index (the name's last field) is in
``--test-indices`` for testing (FSDD: 5-9, since 0-4 are the official test part);
``speakers`` leaves each speaker out in turn.
"""

import sys
import time

import numpy as np

from sklstm.audio import add_noise, event_scores, make_stream

from ._kws_models import make_spotter

__all__ = ["score_split", "validate"]

STREAM_CLIPS = 30


def score_split(spotter, waves, labels, groups, *, sr, seed=0):
    """Accuracy (clean, 10 dB, 0 dB), spotting F1 (silence, 10 dB noise), false alarms.

    Each test recording holds one speaker's clips, as a real recording would:
    the noise is then at 10 dB below that speaker's level (FSDD's speakers
    were recorded 20 dB apart).
    """
    rng = np.random.RandomState(seed)
    labels = np.asarray(labels).astype(str)
    groups = np.asarray(groups)
    scores = {"n_clips": len(waves)}
    for name, snr in (("accuracy", None), ("accuracy_10db", 10.0), ("accuracy_0db", 0.0)):
        X = waves if snr is None else [add_noise(w, snr_db=snr, random_state=rng) for w in waves]
        scores[name] = float(np.mean(spotter.predict(X).astype(str) == labels))
    recordings = []
    for group in np.unique(groups):
        order = rng.permutation(np.flatnonzero(groups == group))
        recordings += [order[i : i + STREAM_CLIPS] for i in range(0, len(order), STREAM_CLIPS)]
    for name, snr in (("spot_f1_silence", None), ("spot_f1_10db", 10.0)):
        totals = np.zeros(3, dtype=np.int64)
        for chosen in recordings:
            y, truth = make_stream(
                [waves[i] for i in chosen], labels[chosen], sr=sr, snr_db=snr, random_state=rng
            )
            events = spotter.spot(y)
            s = event_scores(events, truth)
            totals += [s["tp"], s["fp"], s["fn"]]
        tp, fp, fn = totals
        scores[name] = float(2 * tp / max(1, 2 * tp + fp + fn))
        scores[name.replace("f1", "counts")] = {"tp": int(tp), "fp": int(fp), "fn": int(fn)}
    minute = 60 * sr
    false_alarms = 0
    for level in (0.05, 0.0005):
        noise = (level * rng.standard_normal(minute)).astype(np.float32)
        false_alarms += len(spotter.spot(noise))
    scores["false_alarms_2min_noise"] = false_alarms
    return scores


def _index_of(path):
    try:
        return int(path.stem.split("_")[-1])
    except ValueError:
        return None


def validate(
    waves, labels, groups, noises, paths, *, sr, splits, test_indices, speakers=None, **fit
):
    """Train and score every fold of the requested splits; returns a JSON-able dict.

    ``speakers`` limits the ``speakers`` split to leaving out those speakers
    (default: every speaker in turn).
    """
    waves = list(waves)
    folds = []
    if "holdout" in splits:
        test = np.array([_index_of(p) in test_indices for p in paths])
        if not test.any() or test.all():
            raise SystemExit(
                f"error: --test-indices {sorted(test_indices)} select "
                f"{int(test.sum())} of {len(test)} clips; need some but not all."
            )
        folds.append(("holdout", test))
    if "speakers" in splits:
        chosen = sorted(set(groups)) if speakers is None else list(speakers)
        unknown = sorted(set(chosen) - set(groups))
        if unknown:
            raise SystemExit(
                f"error: --speakers {' '.join(unknown)}: no such speaker in the data "
                f"({' '.join(sorted(set(groups)))})."
            )
        folds += [(f"speaker {g}", groups == g) for g in chosen]
    results = {}
    for name, test in folds:
        started = time.perf_counter()
        train_idx, test_idx = np.flatnonzero(~test), np.flatnonzero(test)
        spotter = make_spotter(sr=sr, **fit).fit(
            [waves[i] for i in train_idx], labels[train_idx], noises=noises
        )
        fold = score_split(
            spotter, [waves[i] for i in test_idx], labels[test_idx], groups[test_idx], sr=sr
        )
        fold["train_seconds"] = round(time.perf_counter() - started, 1)
        results[name] = fold
        print(
            f"{name}: accuracy {fold['accuracy']:.4f}, 10 dB {fold['accuracy_10db']:.4f}, "
            f"0 dB {fold['accuracy_0db']:.4f}, spotting F1 {fold['spot_f1_silence']:.3f} "
            f"(silence) {fold['spot_f1_10db']:.3f} (10 dB), {fold['train_seconds']:.0f} s",
            file=sys.stderr,
        )
    speakers = [v for k, v in results.items() if k.startswith("speaker ")]
    if speakers:
        keys = [k for k, v in speakers[0].items() if isinstance(v, float)]
        results["speakers mean"] = {k: float(np.mean([s[k] for s in speakers])) for k in keys}
    return results
