"""Keyword spotting: an LSTM over MFCCs that names short spoken words and finds them in recordings.

    python -m pipelines.keyword_spotting train    --data DIR --model FILE [--search]
    python -m pipelines.keyword_spotting evaluate --model FILE --data DIR [--json]
    python -m pipelines.keyword_spotting predict  --model FILE CLIP.wav [CLIP.wav ...] [--json]
    python -m pipelines.keyword_spotting spot     --model FILE LONG.wav [--json] [--threshold P]
    python -m pipelines.keyword_spotting crossval --data DIR [--split holdout|speakers|both]

DIR is FSDD-style (clips named ``{label}_..._.wav``, directly in DIR or in
DIR/recordings) or laid out as Speech Commands (one folder per keyword; a
``_background_noise_`` folder, if present, feeds the background class and the
noise augmentation). The model file holds the fitted Pipeline MFCC ->
SequenceScaler -> LSTMClassifier, trained with a background class of silence
and noise, plus the settings ``spot`` needs. Unreadable clips are reported, the
others processed, and the exit status is non-zero at the end. See
docs/keyword_spotting.md for the design and the measured figures.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ._cli import BadFiles, load_model, save_model

BACKGROUND = "_background_"
NOISE_FOLDER = "_background_noise_"
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}
# Chosen on FSDD with indices 5-9 held out and leave-one-speaker-out (docs/keyword_spotting.md).
FEATURES = dict(n_mfcc=13, n_mels=40, deltas=0, normalize="mean")
NETWORK = dict(hidden_size=128, pooling="max", learning_rate_init=3e-3, max_iter=30)
AUGMENT = dict(speed=(0.9, 1.1), shift=0.1, snr_db=(0.0, 20.0), noise_prob=0.5)
N_COPIES = 2
BACKGROUND_SHARE = 0.1
SEARCH_GRID = {
    "estimator__lstmclassifier__hidden_size": [64, 128],
    "estimator__lstmclassifier__learning_rate_init": [1e-3, 3e-3],
}


# -- data ---------------------------------------------------------------------------


def find_clips(data_dir):
    """Clips, labels, speaker groups and background-noise files of DIR.

    Returns
    -------
    paths : list of Path
    labels : list of str
    groups : list of str
        Who speaks (FSDD: the second field of the name; Speech Commands: the
        first), for speaker-grouped cross-validation.
    noises : list of Path
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise SystemExit(f"error: --data {root} is not a directory.")

    def audio_in(folder):
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)

    if not audio_in(root) and (root / "recordings").is_dir():
        root = root / "recordings"  # the FSDD repository's layout
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    folders = [d for d in folders if audio_in(d)]
    paths, labels, groups, noises = [], [], [], []
    if folders:
        for folder in folders:
            if folder.name == NOISE_FOLDER:
                noises = audio_in(folder)
                continue
            for path in audio_in(folder):
                paths.append(path)
                labels.append(folder.name)
                groups.append(path.stem.split("_")[0])
    else:
        for path in audio_in(root):
            fields = path.stem.split("_")
            paths.append(path)
            labels.append(fields[0])
            groups.append(fields[1] if len(fields) > 1 else path.stem)
    if not paths:
        raise SystemExit(
            f"error: no audio clips in {root}: expected {{label}}_*.wav files or one folder "
            "of clips per keyword."
        )
    return paths, labels, groups, noises


def load_clips(paths, sr, bad, *, progress=True, desc="reading clips"):
    """Waveforms of the readable clips at ``sr`` and the indices of those clips."""
    from tqdm.auto import tqdm

    from sklstm.audio import AudioFileError, load_audio

    waves, kept = [], []
    for i, path in enumerate(tqdm(paths, desc=desc, unit="clip", disable=not progress)):
        try:
            waves.append(load_audio(path, sr=sr)[0])
            kept.append(i)
        except AudioFileError as exc:
            bad.add(path, str(exc).removeprefix(f"{path}: "))
    return waves, np.array(kept, dtype=np.int64)


def make_background(n, *, sr, lengths, noises, random_state):
    """``n`` clips of silence and noise, as long as the keyword clips.

    A third is near-silence (microphone hiss, 45 to 80 dB below full scale, or
    digital zeros), a third noise at speech levels, coloured by a random
    first-order filter, and a third excerpts of the noise recordings (or more
    coloured noise when there are none).
    """
    from scipy.signal import lfilter

    rng = np.random.default_rng(random_state)
    clips = []
    for i in range(n):
        length = int(rng.choice(lengths) * rng.uniform(0.7, 1.5))
        kind = i % 3
        if kind == 2 and noises:
            noise = noises[rng.integers(len(noises))]
            start = rng.integers(max(1, len(noise) - length))
            y = noise[start : start + length]
        else:
            y = rng.standard_normal(length)
            y = lfilter([1.0], [1.0, -rng.uniform(-0.9, 0.99)], y)
            level = rng.uniform(-80, -45) if kind == 0 else rng.uniform(-40, -10)
            y *= 10 ** (level / 20) / (np.std(y) + 1e-12)
            if kind == 0 and rng.uniform() < 0.1:
                y[:] = 0.0
        clips.append(np.asarray(y, dtype=np.float32))
    return clips


# -- model ----------------------------------------------------------------------------


def build_model(
    *, sr, noises, epochs=None, hidden_size=None, copies=N_COPIES, random_state=0, verbose=0
):
    """AugmentedClassifier around the Pipeline MFCC -> SequenceScaler -> LSTMClassifier."""
    from sklearn.pipeline import make_pipeline
    from skorch.callbacks import LRScheduler

    from sklstm import LSTMClassifier, SequenceScaler
    from sklstm.audio import MFCC, AugmentedClassifier, SpecAugment, WaveformAugmenter

    # 20 ms hop and a 32 ms window (a power of two) at any rate.
    n_fft = 1 << int(np.ceil(np.log2(0.032 * sr)))
    network = dict(NETWORK)
    if epochs:
        network["max_iter"] = epochs
    if hidden_size:
        network["hidden_size"] = hidden_size
    pipeline = make_pipeline(
        MFCC(sr=sr, n_fft=n_fft, hop_length=sr // 50, verbose=verbose, **FEATURES),
        SequenceScaler(),
        LSTMClassifier(
            **network,
            callbacks=[
                LRScheduler(policy="CosineAnnealingLR", T_max=network["max_iter"]),
                SpecAugment(
                    freq_masks=1,
                    freq_width=3,
                    time_masks=2,
                    time_width=4,
                    random_state=random_state,
                ),
            ],
            random_state=random_state,
            verbose=verbose,
        ),
    )
    return AugmentedClassifier(
        pipeline,
        augmenter=WaveformAugmenter(sr=sr, noises=noises, **AUGMENT),
        n_copies=copies,
        random_state=random_state,
    )


def fit_pipeline(
    waves,
    labels,
    groups,
    noises,
    *,
    sr,
    epochs=None,
    hidden_size=None,
    copies=N_COPIES,
    seed=0,
    progress=True,
    search=False,
):
    """Add the background class, fit (or grid-search) the model, return the fitted Pipeline.

    Returns
    -------
    pipeline : Pipeline
        MFCC -> SequenceScaler -> LSTMClassifier, with the training-time
        settings (progress bars, callbacks) cleared.
    info : dict
        ``n_background`` and, after a search, ``best_params`` and ``best_score``.
    """
    n_background = max(20, int(round(BACKGROUND_SHARE * len(waves))))
    background = make_background(
        n_background, sr=sr, lengths=[len(w) for w in waves], noises=noises, random_state=seed
    )
    X = list(waves) + background
    y = np.concatenate([labels, [BACKGROUND] * n_background])
    groups = np.concatenate([groups, [f"{BACKGROUND}{i % 3}" for i in range(n_background)]])
    if progress:
        print(
            f"training on {len(waves)} clips of {len(set(labels))} keywords and "
            f"{n_background} background clips, {copies} augmented copies each",
            file=sys.stderr,
        )
    model = build_model(
        sr=sr,
        noises=noises,
        epochs=epochs,
        hidden_size=hidden_size,
        copies=copies,
        random_state=seed,
        verbose=int(progress),
    )
    info = {"n_background": n_background}
    if search:
        from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

        model.set_params(estimator__lstmclassifier__verbose=0, estimator__mfcc__verbose=0)
        searcher = GridSearchCV(
            model,
            SEARCH_GRID,
            cv=StratifiedGroupKFold(n_splits=3),
            verbose=2 if progress else 0,
            error_score="raise",
        )
        searcher.fit(X, y, groups=groups)
        model = searcher.best_estimator_
        info.update(best_params=searcher.best_params_, best_score=float(searcher.best_score_))
    else:
        model.fit(X, y)
    pipeline = model.estimator_
    # Progress bars, the LR schedule and the masks belong to training, not to the model.
    pipeline.set_params(mfcc__verbose=0, lstmclassifier__verbose=0, lstmclassifier__callbacks=None)
    return pipeline, info


def _read_training_data(data, sr, bad, progress):
    paths, labels, groups, noise_paths = find_clips(data)
    waves, kept = load_clips(paths, sr, bad, progress=progress)
    noises, _ = load_clips(noise_paths, sr, bad, progress=progress, desc="reading noises")
    if not waves:
        raise SystemExit("error: none of the clips could be read.")
    paths = [paths[i] for i in kept]
    return waves, np.array(labels)[kept], np.array(groups)[kept], noises, paths


def train(args):
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    bad = BadFiles()
    progress = not args.quiet
    waves, labels, groups, noises, _ = _read_training_data(args.data, args.sr, bad, progress)
    pipeline, info = fit_pipeline(
        waves,
        labels,
        groups,
        noises,
        sr=args.sr,
        epochs=args.epochs,
        hidden_size=args.hidden_size,
        copies=args.copies,
        seed=args.seed,
        progress=progress,
        search=args.search,
    )
    seconds = time.perf_counter() - started
    saved = {
        "pipeline": pipeline,
        "sample_rate": args.sr,
        "background_label": BACKGROUND,
        "threshold": args.threshold,
        "segment_params": {},
        "labels": sorted(set(labels)),
        "trained_on": {
            "data": str(Path(args.data).resolve()),
            "n_clips": len(waves),
            "seconds": round(seconds, 1),
            **info,
        },
    }
    save_model(saved, args.model)
    print(f"model saved to {args.model} ({seconds:.0f} s)", file=sys.stderr)
    return bad.exit_code()


# -- using a model -------------------------------------------------------------------


def _load(path):
    import torch

    # One clip or one recording's segments: one thread is fastest, and 2 threads
    # under load made a 1-s prediction 8x slower (median 64 ms instead of 8 ms).
    torch.set_num_threads(1)
    model = load_model(path)
    if not isinstance(model, dict) or "pipeline" not in model:
        raise SystemExit(f"error: {path} is not a keyword-spotting model.")
    return model


def evaluate(args):
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    model = _load(args.model)
    bad = BadFiles()
    paths, labels, _, _ = find_clips(args.data)
    waves, kept = load_clips(paths, model["sample_rate"], bad, progress=not args.json)
    if not waves:
        raise SystemExit("error: none of the clips could be read.")
    y_true = np.array(labels)[kept]
    y_pred = model["pipeline"].predict(waves).astype(str)
    order = sorted(set(y_true) | set(y_pred))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=order, zero_division=0
    )
    report = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n_clips": len(y_true),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f)}
            for label, p, r, f in zip(order, precision, recall, f1)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=order).tolist(),
        "labels": order,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"accuracy {report['accuracy']:.4f} on {report['n_clips']} clips\n")
        print(f"{'label':>14} {'precision':>9} {'recall':>9} {'f1':>9}")
        for label, scores in report["per_class"].items():
            print(
                f"{label:>14} {scores['precision']:9.4f} {scores['recall']:9.4f} "
                f"{scores['f1']:9.4f}"
            )
        print("\nconfusion matrix (rows: true, columns: predicted)")
        width = max(5, *(len(label) for label in order)) + 1
        print(" " * width + "".join(f"{label:>{width}}" for label in order))
        for label, row in zip(order, report["confusion_matrix"]):
            print(f"{label:>{width}}" + "".join(f"{n:>{width}}" for n in row))
    return bad.exit_code()


def predict(args):
    model = _load(args.model)
    bad = BadFiles()
    waves, kept = load_clips(args.clips, model["sample_rate"], bad, progress=False)
    results = []
    if waves:
        pipeline = model["pipeline"]
        proba = pipeline.predict_proba(waves)
        classes = pipeline.classes_
        for i, p in zip(kept, proba):
            k = int(np.argmax(p))
            results.append(
                {"file": str(args.clips[i]), "label": str(classes[k]), "score": float(p[k])}
            )
    if args.json:
        print(json.dumps(results))
    else:
        for r in results:
            print(f"{r['file']}\t{r['label']}\t{r['score']:.4f}")
    return bad.exit_code()


def spot(args):
    from sklstm.audio import AudioFileError, load_audio, spot_keywords

    model = _load(args.model)
    try:
        y, _ = load_audio(args.recording, sr=model["sample_rate"])
    except AudioFileError as exc:
        raise SystemExit(f"error: {exc}") from None
    threshold = model["threshold"] if args.threshold is None else args.threshold
    events = spot_keywords(
        model["pipeline"],
        y,
        sr=model["sample_rate"],
        background_label=model["background_label"],
        threshold=threshold,
        segment_params=model["segment_params"],
    )
    if args.json:
        print(json.dumps(events))
    else:
        for e in events:
            print(f"{e['start']:9.3f} {e['end']:9.3f}  {e['label']}  {e['score']:.3f}")
        print(
            f"{len(events)} keyword(s) in {len(y) / model['sample_rate']:.1f} s", file=sys.stderr
        )
    return 0


def crossval(args):
    import torch

    from ._kws_validation import validate

    if args.threads:
        torch.set_num_threads(args.threads)
    low, _, high = args.test_indices.partition("-")
    test_indices = set(range(int(low), int(high or low) + 1))
    bad = BadFiles()
    waves, labels, groups, noises, paths = _read_training_data(
        args.data, args.sr, bad, not args.json
    )
    splits = {"both": ("holdout", "speakers")}.get(args.split, (args.split,))
    results = validate(
        waves,
        labels,
        groups,
        noises,
        paths,
        sr=args.sr,
        splits=splits,
        test_indices=test_indices,
        epochs=args.epochs,
        hidden_size=args.hidden_size,
        seed=args.seed,
    )
    print(json.dumps(results, indent=None if args.json else 2))
    return bad.exit_code()


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.keyword_spotting",
        description="Train, evaluate and run an LSTM keyword spotter on MFCCs.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train a model on a folder of labelled clips")
    p.add_argument("--data", required=True, help="FSDD-style or Speech Commands folder")
    p.add_argument("--model", required=True, help="model file to write")
    p.add_argument("--search", action="store_true", help="grid search (speaker-grouped 3-fold)")
    p.add_argument("--sr", type=int, default=8000, help="model sampling rate in Hz (8000)")
    p.add_argument("--epochs", type=int, default=None, help=f"epochs ({NETWORK['max_iter']})")
    p.add_argument(
        "--hidden-size", type=int, default=None, help=f"LSTM units ({NETWORK['hidden_size']})"
    )
    p.add_argument(
        "--copies", type=int, default=N_COPIES, help=f"augmented copies per clip ({N_COPIES})"
    )
    p.add_argument("--threshold", type=float, default=0.5, help="spotting threshold stored")
    # One thread: the batches of a small LSTM are too small to share, and with
    # another process on the second core, two OpenMP threads made epochs ~8x slower.
    p.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(run=train)

    p = commands.add_parser("evaluate", help="accuracy, per-class scores, confusion matrix")
    p.add_argument("--model", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=evaluate)

    p = commands.add_parser("predict", help="the keyword of each clip")
    p.add_argument("--model", required=True)
    p.add_argument("clips", nargs="+", metavar="CLIP")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=predict)

    p = commands.add_parser("spot", help="keywords said in a long recording")
    p.add_argument("--model", required=True)
    p.add_argument("recording", metavar="LONG.wav")
    p.add_argument("--json", action="store_true", help="a JSON list of events on stdout")
    p.add_argument("--threshold", type=float, default=None, help="override the model's")
    p.set_defaults(run=spot)

    p = commands.add_parser("crossval", help="held-out and leave-one-speaker-out validation")
    p.add_argument("--data", required=True)
    p.add_argument("--split", choices=["holdout", "speakers", "both"], default="both")
    p.add_argument("--test-indices", default="5-9", help="held-out takes, e.g. 5-9 (FSDD)")
    p.add_argument("--sr", type=int, default=8000)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--hidden-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="one JSON object, no progress")
    p.set_defaults(run=crossval)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
