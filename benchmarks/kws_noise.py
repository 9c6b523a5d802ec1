"""Keyword spotting in noise: the figures of docs/keyword_spotting.md on real noise.

    python -m benchmarks.kws_noise [--quick] [--causal] [--save DIR] [--json FILE]

Trains the default KeywordSpotter on FSDD takes 10-49 with and without real noise
(the training kinds of ``$SKLSTM_DATA/noise``), then scores, on the held-out takes
5-9: clip accuracy clean, in white noise and in real noise of the *other* kinds
(never heard in training), accuracy on ``digits_en``, and the event F1 of ``spot``
on recordings that mix all speakers' words with pauses, in silence, white noise and
real noise. One seed; the test noise never overlaps the training noise.
``--causal`` trains and scores the CausalKeywordSpotter instead; ``--save DIR``
writes each model there (``default.sklstm``, ``noise.sklstm``) for
:mod:`benchmarks.kws_stream`.
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("SKLSTM_DATA", Path(__file__).resolve().parents[2] / "shared/data"))
# Kinds of ../shared/data/noise/ (the part of a name before its number): slices of
# one source recording share a kind, so a split by kind keeps them on one side.
TRAIN_KINDS = {"children_playing", "drilling", "engine_idling", "siren", "cafe",
               "acoustic_scene", "music", "thunderstorm"}  # fmt: skip
TEST_KINDS = {"dog_bark", "jackhammer", "street_music", "car_horn", "fridge", "traffic",
              "street", "musan_noise"}  # fmt: skip
CONDITIONS = [("silence", None), ("white", 10), ("white", 5), ("real", 10), ("real", 5)]


def _clips(indices, sr):
    from sklstm.audio import load_audio

    paths = sorted(
        p for p in (DATA / "fsdd" / "recordings").glob("*.wav")
        if int(p.stem.split("_")[2]) in indices
    )  # fmt: skip
    return [load_audio(p, sr=sr)[0] for p in paths], np.array([p.name[0] for p in paths])


def _noises(kinds, sr):
    from sklstm.audio import load_audio

    paths = sorted(p for p in (DATA / "noise").glob("*.wav") if p.stem.rsplit("_", 1)[0] in kinds)
    return [load_audio(p, sr=sr)[0] for p in paths]


def _recordings(waves, labels, kind, snr, noises, *, n, seed, sr):
    """``n`` recordings of 8-12 words of any speakers, with noise at ``snr`` dB."""
    from sklstm.audio import make_stream

    rng = np.random.RandomState(seed)
    for _ in range(n):
        idx = rng.choice(len(waves), rng.randint(8, 13), replace=False)
        y, truth = make_stream([waves[i] for i in idx], labels[idx], sr=sr, random_state=rng)
        if kind != "silence":
            power = np.mean(np.square(np.concatenate([waves[i] for i in idx]), dtype=np.float64))
            if kind == "white":
                noise = rng.standard_normal(len(y))
            else:
                source = noises[rng.randint(len(noises))]
                source = np.tile(source, int(np.ceil(len(y) / len(source))) + 1)
                start = rng.randint(len(source) - len(y))
                noise = source[start : start + len(y)].astype(np.float64)
            noise *= np.sqrt(power / 10 ** (snr / 10) / (np.mean(noise**2) + 1e-20))
            y = (y + noise).astype(np.float32)
        yield y, truth


def score(spotter, test, test_noises, english, *, n_recordings=25):
    """Accuracies and spotting F1 (precision, recall) of a fitted KeywordSpotter."""
    from sklstm.audio import add_noise, event_scores

    waves, labels = test
    rng = np.random.RandomState(0)
    noisy = {
        "white_10": [add_noise(w, snr_db=10, random_state=rng) for w in waves],
        "white_0": [add_noise(w, snr_db=0, random_state=rng) for w in waves],
        "real_10": [
            add_noise(w, snr_db=10, noise=test_noises[i % len(test_noises)], random_state=rng)
            for i, w in enumerate(waves)
        ],  # fmt: skip
        "real_0": [
            add_noise(w, snr_db=0, noise=test_noises[i % len(test_noises)], random_state=rng)
            for i, w in enumerate(waves)
        ],  # fmt: skip
    }
    out = {"accuracy": float(np.mean(spotter.predict(waves) == labels))}
    for name, X in noisy.items():
        out[f"accuracy_{name}"] = float(np.mean(spotter.predict(X) == labels))
    out["accuracy_digits_en"] = float(np.mean(spotter.predict(english[0]) == english[1]))
    for kind, snr in CONDITIONS:
        counts = np.zeros(3, dtype=np.int64)
        recordings = _recordings(waves, labels, kind, snr, test_noises, n=n_recordings, seed=0,
                                 sr=spotter.sr)  # fmt: skip
        for y, truth in recordings:
            s = event_scores(spotter.spot(y), truth)
            counts += [s["tp"], s["fp"], s["fn"]]
        tp, fp, fn = (int(c) for c in counts)
        out[f"spot_{kind}{'' if snr is None else f'_{snr}'}"] = {
            "f1": 2 * tp / max(1, 2 * tp + fp + fn), "precision": tp / max(1, tp + fp),
            "recall": tp / max(1, tp + fn),
        }  # fmt: skip
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--causal", action="store_true", help="the CausalKeywordSpotter")
    parser.add_argument("--save", type=Path, metavar="DIR", help="save the models there")
    parser.add_argument("--json", type=Path, help="also write the results there")
    args = parser.parse_args(argv)
    import torch

    import sklstm
    from sklstm.audio import CausalKeywordSpotter, KeywordSpotter, load_audio

    torch.set_num_threads(1)
    sr = 8000
    train = _clips(range(10, 12) if args.quick else range(10, 50), sr)
    test = _clips(range(5, 6) if args.quick else range(5, 10), sr)
    english_paths = sorted((DATA / "digits_en").glob("*.wav"))[: 20 if args.quick else None]
    english = ([load_audio(p, sr=sr)[0] for p in english_paths],
               np.array([p.name[0] for p in english_paths]))  # fmt: skip
    settings = dict(max_iter=1, hidden_size=8) if args.quick else {}
    estimator = CausalKeywordSpotter if args.causal else KeywordSpotter
    results = {}
    for name, kinds in (("default", None), ("noise", TRAIN_KINDS)):
        noises = _noises(kinds, sr) if kinds else None
        spotter = estimator(**settings).fit(*train, noises=noises)
        if args.save:
            args.save.mkdir(parents=True, exist_ok=True)
            sklstm.save(spotter, args.save / f"{name}.sklstm")
        results[name] = score(
            spotter, test, _noises(TEST_KINDS, sr), english, n_recordings=3 if args.quick else 25
        )
        print(name, json.dumps(results[name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
