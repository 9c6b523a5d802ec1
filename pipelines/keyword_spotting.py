"""Keyword spotting: an LSTM over MFCCs that names short spoken words and finds them in recordings.

    python -m pipelines.keyword_spotting train    --data DIR --model FILE [--search] [--resume]
    python -m pipelines.keyword_spotting train    --data DIR --model FILE --causal
    python -m pipelines.keyword_spotting evaluate --model FILE --data DIR [--json]
    python -m pipelines.keyword_spotting predict  --model FILE CLIP.wav [CLIP.wav ...] [--json]
    python -m pipelines.keyword_spotting spot     --model FILE LONG.wav [--json] [--threshold P]
    python -m pipelines.keyword_spotting spot     --model FILE LONG.wav --threshold 6=0.9,8=0.85
    python -m pipelines.keyword_spotting spot     --model FILE --stream LONG.wav|- [--chunk S]
    python -m pipelines.keyword_spotting crossval --data DIR [--split holdout|speakers|both]

``train``, ``evaluate`` and ``spot`` save figures as PNG with ``--plots DIR``.

DIR is FSDD-style (clips named ``{label}_..._.wav``, directly in DIR or in
DIR/recordings) or laid out as Speech Commands (one folder per keyword; a
``_background_noise_`` folder, if present, feeds the background class and the
noise augmentation). The model file holds the fitted Pipeline MFCC ->
SequenceScaler -> LSTMClassifier, trained with a background class of silence
and noise, plus the settings ``spot`` needs. Unreadable clips are reported, the
others processed, and the exit status is non-zero at the end. ``train``
checkpoints every epoch (``--resume`` continues an interrupted run to the model
an uninterrupted one gives); Ctrl-C saves the model trained so far. ``--causal``
trains a CausalKeywordSpotter instead: a frame-by-frame tagger whose ``spot
--stream`` reports each word as it ends. See docs/keyword_spotting.md for the
design and the measured figures.
"""

from ._startup import quiet_ctrl_c_while_starting, run_program

quiet_ctrl_c_while_starting(__name__)  # before the slow imports below

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from . import _kws_plots, _plots
from ._cli import INTERRUPTED, BadFiles, save_model
from ._kws_data import find_clips, load_clips, read_training_data
from ._kws_models import (
    MODEL_KEY,
    N_COPIES,
    fit_reporting_warnings,
    load_spotter,
    make_spotter,
    resumed,
    search,
)
from ._kws_options import (
    CAUSAL_READS_ONCE,
    add_test_speeds,
    merged_threshold,
    threshold_option,
    with_test_speeds,
)
from ._kws_stream import spot_stream


def _checkpoint_path(args):
    if args.search or args.no_checkpoint:
        if args.resume:
            raise SystemExit(
                "error: --resume needs a checkpoint (not --search or --no-checkpoint)."
            )
        return None
    path = Path(args.checkpoint) if args.checkpoint else Path(f"{args.model}.ckpt")
    if args.resume and not path.is_file():
        raise SystemExit(
            f"error: no checkpoint at {path} to resume from (train without --resume to start)."
        )
    return path


def train(args):
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.plots:
        _plots.require()  # before training, not after it
    checkpoint = _checkpoint_path(args)
    started = time.perf_counter()
    bad = BadFiles()
    progress = not args.quiet
    from sklstm.checkpoint import ResumableCheckpoint

    if args.causal:
        if args.detector is not None:
            raise SystemExit(
                "error: --detector chooses how a KeywordSpotter finds words; the causal "
                "spotter fires frame by frame (leave --detector out)."
            )
        if args.test_speeds is not None:
            raise SystemExit(CAUSAL_READS_ONCE)
        detection = {} if args.threshold is None else {"threshold": args.threshold}
    else:
        detection = {
            "detector": args.detector or "posteriors",
            "threshold": "auto" if args.threshold is None else args.threshold,
        }
        if args.test_speeds is not None:
            detection["test_speeds"] = args.test_speeds
    spotter = make_spotter(
        sr=args.sr,
        epochs=args.epochs,
        hidden_size=args.hidden_size,
        copies=args.copies,
        seed=args.seed,
        causal=args.causal,
        verbose=int(progress),
        callbacks=[ResumableCheckpoint(checkpoint)] if checkpoint else None,
        **detection,
    )
    try:
        spotter._validate_params()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    waves, labels, groups, noises, _ = read_training_data(
        args.data, args.sr, bad, progress, args.noise
    )
    info = {}
    try:
        if args.search:
            spotter, info = search(spotter, waves, labels, groups, noises, progress)
        else:
            resume = resumed(checkpoint) if args.resume else None
            if resume is not None and progress:
                print(
                    f"resuming from {checkpoint} after epoch {resume.n_iter_} of "
                    f"{spotter.get_params()['max_iter']}",
                    file=sys.stderr,
                )
            fit_reporting_warnings(
                spotter, waves, labels, noises, resume=resume, checkpoint=checkpoint,
                progress=progress,
            )  # fmt: skip
    except KeyboardInterrupt:
        bad.report()
        if args.search:
            print("\ninterrupted during the grid search: no model saved.", file=sys.stderr)
            return INTERRUPTED
        kept = ""
        if checkpoint and checkpoint.is_file():
            kept = f"; {checkpoint} holds the last completed epoch (continue with --resume)"
        print(f"\ninterrupted before a first epoch ended: no model saved{kept}.", file=sys.stderr)
        return INTERRUPTED
    seconds = time.perf_counter() - started
    spotter.set_params(callbacks=None, verbose=0)  # training-time settings, saved as data
    classifier = spotter.pipeline_[-1]
    saved = {
        MODEL_KEY: spotter,
        "labels": sorted(set(labels)),
        # No timings here: the same training must give the same file.
        "trained_on": {
            "data": str(Path(args.data).resolve()),
            "n_clips": len(waves),
            "epochs": classifier.n_iter_,
            **(
                {"n_streams": spotter.n_streams_}
                if args.causal
                else {"n_background": spotter.n_background_}
            ),
            **info,
        },
    }
    kept = f"; {checkpoint} holds the last completed epoch" if checkpoint else ""
    try:
        save_model(saved, args.model)
    except KeyboardInterrupt:
        bad.report()
        print(f"\ninterrupted while saving: {args.model} was not written{kept}.", file=sys.stderr)
        return INTERRUPTED
    if args.plots:
        try:
            path = _plots.save_training_history(
                Path(args.plots) / "training_history.png", spotter.pipeline_
            )
        except KeyboardInterrupt:
            print(
                f"\ninterrupted while drawing the plots: the model is saved to {args.model}.",
                file=sys.stderr,
            )
            return INTERRUPTED
        print(f"training history drawn in {path}", file=sys.stderr)
    if spotter.interrupted_:
        bad.report()
        resume = ""
        if checkpoint is not None:
            resume = f"; run the same command with --resume to finish training from {checkpoint}"
        print(
            f"\ninterrupted after epoch {classifier.n_iter_} of {classifier.max_iter}: the model "
            f"trained so far is saved to {args.model}{resume}.",
            file=sys.stderr,
        )
        return INTERRUPTED
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)  # the run is complete: nothing left to resume
    print(f"model saved to {args.model} ({seconds:.0f} s)", file=sys.stderr)
    return bad.exit_code()


# -- using a model -------------------------------------------------------------------


def evaluate(args):
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    if args.plots:
        _plots.require()
    spotter = with_test_speeds(load_spotter(args.model), args)
    bad = BadFiles()
    paths, labels, _, _ = find_clips(args.data)
    waves, kept = load_clips(paths, spotter.sr, bad, progress=not args.json)
    if not waves:
        raise SystemExit("error: none of the clips could be read.")
    y_true = np.array(labels)[kept]
    y_pred = spotter.predict(waves).astype(str)
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
    if args.plots:
        path = Path(args.plots) / "confusion_matrix.png"
        _plots.save_confusion_matrix(
            path,
            report["confusion_matrix"],
            order,
            title=f"{Path(args.data).name}: accuracy {report['accuracy']:.4f} "
            f"on {report['n_clips']} clips",
        )
        print(f"confusion matrix drawn in {path}", file=sys.stderr)
    return bad.exit_code()


def predict(args):
    spotter = with_test_speeds(load_spotter(args.model), args)
    bad = BadFiles()
    waves, kept = load_clips(args.clips, spotter.sr, bad, progress=False)
    results = []
    if waves:
        proba = spotter.predict_proba(waves)
        classes = spotter.classes_
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
    from sklstm.audio import AudioFileError, load_audio

    reference = None
    if args.plots:
        _plots.require()
        reference = _read_reference(args.reference) if args.reference else None
    elif args.reference:
        raise SystemExit("error: --reference is drawn in the plot: give --plots DIR too.")
    if args.stream and (args.plots or args.json):
        raise SystemExit("error: --stream prints JSON lines: --plots and --json work without it.")
    if not args.stream and (
        args.rate is not None or args.chunk is not None or args.recording == "-"
    ):
        raise SystemExit("error: standard input ('-'), --rate and --chunk need --stream.")
    spotter = with_test_speeds(load_spotter(args.model), args)
    causal = not hasattr(spotter, "detector")
    if causal and args.detector is not None:
        raise SystemExit(
            f"error: {args.model} is a causal spotter, which fires frame by frame: "
            "--detector applies to the KeywordSpotter's models."
        )
    if args.stream and args.detector == "segments":
        raise SystemExit(
            "error: --stream spots with the posterior detector: --detector segments works "
            "without it."
        )
    if not causal and args.detector is not None and args.detector != spotter.detector:
        # The stored threshold belongs to the stored detector.
        spotter.set_params(detector=args.detector, threshold="auto")
    args.threshold = merged_threshold(spotter, args)
    if args.stream:
        if not causal and spotter.detector != "posteriors":
            raise SystemExit(
                f"error: {args.model} spots with detector={spotter.detector!r}, whose energy "
                "segments depend on the whole recording; --stream spots with the posterior "
                "detector: add --detector posteriors (its events differ from this model's "
                "spot without it)."
            )
        return spot_stream(args, spotter)
    try:
        y, _ = load_audio(args.recording, sr=spotter.sr)
    except AudioFileError as exc:
        raise SystemExit(f"error: {exc}") from None
    events = spotter.spot(y, threshold=args.threshold)
    if args.json:
        print(json.dumps(events))
    else:
        for e in events:
            print(f"{e['start']:9.3f} {e['end']:9.3f}  {e['label']}  {e['score']:.3f}")
        print(f"{len(events)} keyword(s) in {len(y) / spotter.sr:.1f} s", file=sys.stderr)
    if args.plots:
        name = Path(args.recording).stem
        path = _kws_plots.save_spotting(
            y,
            spotter.sr,
            events,
            Path(args.plots) / f"{name}_spot.png",
            reference=reference,
            title=f"{name}: {len(events)} keyword(s)",
        )
        print(f"recording drawn in {path}", file=sys.stderr)
    return 0


def _read_reference(path):
    """Words said in a recording, from a JSON list of ``{"start", "end", "label"}``."""
    try:
        words = json.loads(Path(path).read_text())
        return [
            {"start": float(w["start"]), "end": float(w["end"]), "label": str(w["label"])}
            for w in words
        ]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise SystemExit(
            f"error: --reference {path}: expected a JSON list of "
            f'{{"start", "end", "label"}} objects ({type(exc).__name__}: {exc}).'
        ) from None


def crossval(args):
    import torch

    from ._kws_validation import validate

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.causal:
        make_spotter(sr=args.sr, copies=args.copies, causal=True)  # refuses --copies now
        if args.test_speeds is not None:
            raise SystemExit(CAUSAL_READS_ONCE)
    speeds = {} if args.test_speeds is None else {"test_speeds": args.test_speeds}
    low, _, high = args.test_indices.partition("-")
    test_indices = set(range(int(low), int(high or low) + 1))
    bad = BadFiles()
    waves, labels, groups, noises, paths = read_training_data(
        args.data, args.sr, bad, not args.json, args.noise
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
        speakers=args.speakers,
        epochs=args.epochs,
        hidden_size=args.hidden_size,
        copies=args.copies,
        seed=args.seed,
        causal=args.causal,
        **speeds,
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
    p.add_argument("--epochs", type=int, default=None, help="epochs (45), or 15 with --causal")
    p.add_argument("--hidden-size", type=int, default=None, help="LSTM units (128)")
    p.add_argument(
        "--causal",
        action="store_true",
        help="train a CausalKeywordSpotter: a frame-by-frame model whose stream reports "
        "each word as it ends (docs/keyword_spotting.md)",
    )
    p.add_argument(
        "--copies", type=int, default=None, help=f"augmented copies per clip ({N_COPIES})"
    )
    p.add_argument(
        "--detector",
        choices=["posteriors", "segments"],
        default=None,
        help="how spot finds words: the model's probabilities over a sliding window "
        "(default), or classifying the stretches that stand out in energy",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="spotting threshold stored (default: 0.8 for posteriors and causal, 0.5 for "
        "segments)",
    )
    add_test_speeds(
        p,
        "speeds each clip and window is also read at, the probabilities averaged "
        "(default 0.95,1.05; none: the clip alone)",
    )
    p.add_argument(
        "--noise",
        action="append",
        metavar="DIR",
        help="folder of background-noise recordings (.wav, .flac or .ogg, searched "
        "recursively) for the background class and the noisy copies; repeat for more folders",
    )
    p.add_argument(
        "--checkpoint",
        default=None,
        metavar="FILE",
        help="resumable checkpoint written after every epoch (MODEL.ckpt); removed once "
        "training completes",
    )
    p.add_argument("--no-checkpoint", action="store_true", help="write no checkpoint")
    p.add_argument(
        "--resume", action="store_true", help="continue the interrupted run of the checkpoint"
    )
    p.add_argument("--plots", metavar="DIR", help="save the training history there (PNG)")
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
    p.add_argument("--plots", metavar="DIR", help="save the confusion matrix there (PNG)")
    add_test_speeds(p, "override the speeds the model also reads each clip at (none: once)")
    p.set_defaults(run=evaluate)

    p = commands.add_parser("predict", help="the keyword of each clip")
    p.add_argument("--model", required=True)
    p.add_argument("clips", nargs="+", metavar="CLIP")
    p.add_argument("--json", action="store_true")
    add_test_speeds(p, "override the speeds the model also reads each clip at (none: once)")
    p.set_defaults(run=predict)

    p = commands.add_parser("spot", help="keywords said in a long recording")
    p.add_argument("--model", required=True)
    p.add_argument("recording", metavar="LONG.wav", help="with --stream, '-' reads raw PCM")
    p.add_argument("--json", action="store_true", help="a JSON list of events on stdout")
    p.add_argument(
        "--stream",
        action="store_true",
        help="read the audio a chunk at a time and print each event as a JSON line as soon "
        "as it is decided",
    )
    p.add_argument(
        "--chunk", type=float, default=None, help="with --stream: seconds per chunk (0.1)"
    )
    p.add_argument(
        "--rate",
        type=int,
        default=None,
        help="with --stream -: rate of the 16-bit mono PCM on stdin (the model's)",
    )
    p.add_argument(
        "--threshold",
        type=threshold_option,
        default=None,
        metavar="P|KEYWORD=P,...",
        help="override the model's threshold: one for every keyword, or some keywords' own "
        "(e.g. 6=0.9,8=0.85; the others keep the model's)",
    )
    p.add_argument("--detector", choices=["posteriors", "segments"], help="override the model's")
    add_test_speeds(p, "override the speeds the model also reads each clip at (none: once)")
    p.add_argument(
        "--plots", metavar="DIR", help="save the waveform and spectrogram with the words there"
    )
    p.add_argument(
        "--reference",
        metavar="JSON",
        help='words actually said, drawn in the plot: [{"start", "end", "label"}, ...]',
    )
    p.set_defaults(run=spot)

    p = commands.add_parser("crossval", help="held-out and leave-one-speaker-out validation")
    p.add_argument("--data", required=True)
    p.add_argument("--split", choices=["holdout", "speakers", "both"], default="both")
    p.add_argument("--test-indices", default="5-9", help="held-out takes, e.g. 5-9 (FSDD)")
    p.add_argument(
        "--speakers",
        nargs="+",
        metavar="SPEAKER",
        help="leave out only these speakers in the speakers split (default: each in turn)",
    )
    p.add_argument("--sr", type=int, default=8000)
    p.add_argument("--noise", action="append", metavar="DIR", help="as for train")
    p.add_argument("--epochs", type=int, default=None, help="epochs (45), or 15 with --causal")
    p.add_argument("--hidden-size", type=int, default=None)
    p.add_argument("--causal", action="store_true", help="a CausalKeywordSpotter, as for train")
    p.add_argument(
        "--copies", type=int, default=None, help=f"augmented copies per clip ({N_COPIES})"
    )
    add_test_speeds(p, "as for train")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object on stdout (a line per fold stays on stderr)",
    )
    p.set_defaults(run=crossval)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        # Every file written so far is complete (atomic writes); nothing else was.
        print(f"\ninterrupted (Ctrl-C) during {args.command}: stopped.", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    run_program(main)
