"""Classify every heartbeat of ECG records into the AAMI classes N, S, V, F, Q.

A command line over :class:`sklstm.ecg.ArrhythmiaClassifier` (one beat at a time) and
:class:`sklstm.ecg.ArrhythmiaTagger` (the sequence of a record's beats; ``--kind``):

    python -m pipelines.ecg_arrhythmia train --data-dir DIR [--records R ...] --model FILE
        [--kind beat|rhythm|both] [--rr-model logistic|none] [--rr-context N|none]
        [--rr-reference mean|median] [--rr-s-weight W|none] [--af-irregularity T|none]
        [--causal] [--search]
        [--checkpoint CKPT [--resume]] [--plots PLOTS]
    python -m pipelines.ecg_arrhythmia evaluate --model FILE --data-dir DIR [--records R ...]
        [--detect] [--json] [--plots PLOTS]
    python -m pipelines.ecg_arrhythmia annotate --model FILE --data-dir DIR [--records R ...]
        --out-dir OUT [--ext pred] [--detect] [--plots PLOTS]
    python -m pipelines.ecg_arrhythmia monitor --model FILE --data-dir DIR [--records R ...]
        [--chunk-ms 100] [--lookahead S] [--history S] [--interval S] [--realtime]
    python -m pipelines.ecg_arrhythmia crossval --data-dir DIR [--records R ...] [--folds 5]
        [--kind beat|rhythm|both] [--rr-model logistic|none] [--rr-context N|none]
        [--rr-reference mean|median] [--rr-s-weight W|none] [--af-irregularity T|none]
        [--causal] [--json]

Without ``--records``, every record of DIR (its RECORDS file, else every .hea);
paced records are left out. Bad records are listed with the reason, the good
ones processed, and the exit status is non-zero at the end. Every output file
is written atomically. Ctrl-C during ``train`` saves the model trained so far
and exits with status 130. See docs/ecg_arrhythmia.md for the design and the
measured figures.
"""

from ._startup import quiet_ctrl_c_while_starting, run_program

quiet_ctrl_c_while_starting(__name__)  # before the slow imports below

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold

from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint
from sklstm.ecg import (
    PACED_RECORDS,
    RecordError,
    filter_ecg,
    list_records,
    plot_ecg_strip,
    read_signal,
)
from sklstm.ecg._metrics import classification_statistics, detection_statistics
from sklstm.ecg._plot import busiest_window
from sklstm.io import ModelFileError

from . import _ecg_monitor, _plots
from ._cli import (
    INTERRUPTED,
    BadFiles,
    TrainingInterrupted,
    interruptible,
    save_model,
    write_json,
)
from ._ecg_models import (
    MODEL_KEY,
    af_irregularity_option,
    beat_checkpoint_path,
    build_model,
    drop_callbacks,
    load_trained_model,
    model_params,
    rr_context_option,
    rr_s_weight_option,
    search_grid,
    training_network,
)
from ._ecg_reports import format_report, summarize, write_annotations

# Length of the ECG strips drawn with --plots.
STRIP_SECONDS = 10.0


def _record_names(args):
    names = args.records or list_records(args.data_dir)
    return [n for n in names if args.include_paced or n not in PACED_RECORDS]


def _chunk_seconds(args):
    return 60.0 * args.chunk_minutes if args.chunk_minutes > 0 else None


def _load(args, classifier, bad):
    beats = classifier.load_beats(
        args.data_dir,
        _record_names(args),
        exclude_paced=not args.include_paced,
        errors="collect",
    )
    for path, reason in beats.failures:
        bad.add(path, reason)
    if not beats.records:
        raise SystemExit(f"error: no readable record in {args.data_dir}.")
    return beats


def cmd_train(args):
    if args.resume and not args.checkpoint:
        raise SystemExit("error: --resume needs --checkpoint CKPT (the interrupted run's).")
    if (args.ensemble or 1) > 1 and (args.checkpoint or args.search):
        raise SystemExit("error: --ensemble does not go with --checkpoint or --search.")
    if args.search and args.checkpoint:
        raise SystemExit("error: --checkpoint and --resume are for one fit, not --search.")
    beat_checkpoint = beat_checkpoint_path(args)
    resume = _resumed_classifier(args.checkpoint) if args.resume else None
    resumed = {"resume": resume}
    if args.resume and args.kind == "both" and beat_checkpoint.is_file():
        resumed["resume_beat_model"] = _resumed_classifier(beat_checkpoint)
    bad = BadFiles()
    callbacks = [ResumableCheckpoint(args.checkpoint)] if args.checkpoint else None
    beat_callbacks = None
    if args.kind == "both" and beat_checkpoint is not None:
        beat_callbacks = [ResumableCheckpoint(beat_checkpoint)]
    model = build_model(args, callbacks=callbacks, beat_callbacks=beat_callbacks)
    beats = _load(args, model, bad)
    if args.checkpoint and not args.resume:
        # A new run: the beat model's checkpoint of an older run must never be
        # resumed after this run is interrupted before its own beat model starts.
        beat_checkpoint.unlink(missing_ok=True)
    start = time.perf_counter()
    interrupted = False
    if args.search:
        model = _search(args, model, beats)
    else:
        # A Ctrl-C that ends one member of an ensemble stops the whole run.
        with interruptible(
            KeyboardInterrupt if (args.ensemble or 1) <= 1 else TrainingInterrupted
        ) as state:
            try:
                model.fit(beats.X, beats.y, **resumed)
            except TrainingInterrupted:
                raise KeyboardInterrupt from None
            except ValueError as exc:
                if resume is None:
                    raise
                which = args.checkpoint
                if "resume_beat_model" in resumed:
                    which = f"{args.checkpoint} and {beat_checkpoint}"
                raise SystemExit(f"error: cannot resume from {which}: {exc}") from None
        # (An ensemble stops at Ctrl-C without a model, above.)
        interrupted = state["interrupted"]
        drop_callbacks(model)  # saved as data
    elapsed = time.perf_counter() - start
    try:
        save_model({MODEL_KEY: model}, args.model)
    except KeyboardInterrupt:
        kept = f"; {args.checkpoint} holds the last completed epoch" if args.checkpoint else ""
        print(f"interrupted while saving: {args.model} was not written{kept}.", file=sys.stderr)
        return INTERRUPTED
    if args.plots:
        try:
            history = args.plots / "training_history.png"
            _plots.save_training_history(history, training_network(model))
        except KeyboardInterrupt:
            print(
                f"interrupted while drawing the plots: the model is saved to {args.model}.",
                file=sys.stderr,
            )
            return INTERRUPTED
    if interrupted:
        network = training_network(model).steps[-1][1]
        planned = "" if isinstance(network.max_iter, str) else f" of {network.max_iter}"
        resume_hint = f"; resume with --checkpoint {args.checkpoint} --resume"
        print(
            f"interrupted (Ctrl-C) after {network.n_iter_}{planned} epochs: "
            f"the model trained so far is saved to {args.model}"
            + (resume_hint if args.checkpoint else ""),
            file=sys.stderr,
        )
        bad.report()
        return INTERRUPTED
    print(f"trained on {len(beats.y)} beats of {len(beats.records)} records in {elapsed:.0f} s")
    print(f"model saved to {args.model}")
    return bad.exit_code()


def _resumed_classifier(path):
    if not path.is_file():
        raise SystemExit(f"error: checkpoint {path} does not exist (nothing to resume).")
    try:
        return load_checkpoint(path)
    except ModelFileError as exc:
        raise SystemExit(f"error: cannot resume from {path}: {exc}") from None


def _search(args, model, beats):
    """Grid search grouped by record; Ctrl-C ends it without a model."""
    scorer = make_scorer(f1_score, average="macro", labels=["N", "S", "V"], zero_division=0)
    search = GridSearchCV(
        model, search_grid(model), scoring=scorer, cv=GroupKFold(args.folds), error_score="raise"
    )
    with interruptible(TrainingInterrupted):
        try:
            search.fit(beats.X, beats.y, groups=beats.groups)
        except TrainingInterrupted:
            raise KeyboardInterrupt from None
    print(f"best {search.best_params_}: macro F1 (N, S, V) {search.best_score_:.3f}")
    return search.best_estimator_


def _annotate(model, path, *, detect, annotator, chunk_seconds):
    try:
        return model.annotate(
            path, detect=detect, annotator=annotator, chunk_seconds=chunk_seconds
        )
    except RecordError as exc:
        raise RecordError(str(exc).replace("detect=True", "--detect")) from None


def cmd_evaluate(args):
    model = load_trained_model(args)
    bad = BadFiles()
    y_true, y_pred, per_record = [], [], {}
    n_ref = n_det = n_matched = n_excused = 0
    for name in _record_names(args):
        path = Path(args.data_dir) / name
        try:
            beats = _annotate(
                model,
                path,
                detect=args.detect,
                annotator="atr",
                chunk_seconds=_chunk_seconds(args),
            )
        except (RecordError, OSError, ValueError) as exc:
            bad.add(path, exc)
            continue
        matched = beats.y != ""
        if args.detect:
            unmatched = beats.samples[~matched]
            in_vf = np.zeros(len(unmatched), dtype=bool)
            for start, end in beats.vf_episodes:
                in_vf |= (unmatched >= start) & (unmatched <= end)
            n_ref += len(beats.reference_samples)
            n_det += len(beats.samples)
            n_matched += int(matched.sum())
            n_excused += int(in_vf.sum())
        stats = classification_statistics(beats.y[matched], beats.pred[matched])
        del stats["labels"]
        per_record[name] = stats
        y_true.append(beats.y[matched])
        y_pred.append(beats.pred[matched])
        if args.plots:
            try:
                _save_strip(args.plots / f"{name}.png", path, model, beats, reference=beats.y)
            except (RecordError, OSError, ValueError) as exc:
                bad.add(path, f"its strip could not be drawn: {exc}")
    if not per_record:
        bad.report()
        return 1
    report = classification_statistics(np.concatenate(y_true), np.concatenate(y_pred))
    if args.detect:
        report["detection"] = detection_statistics(n_ref, n_det, n_matched, n_excused=n_excused)
    report["per_record"] = per_record
    if args.plots:
        _plots.save_confusion_matrix(
            args.plots / "confusion_matrix.png",
            report["confusion_matrix"],
            report["labels"],
            title=f"{report['n_beats']} beats, accuracy {100 * report['accuracy']:.2f}%",
        )
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
    return bad.exit_code()


def cmd_annotate(args):
    model = load_trained_model(args)
    bad = BadFiles()
    out_dir = Path(args.out_dir)
    for name in _record_names(args):
        path = Path(args.data_dir) / name
        try:
            # Detected beats need no reference: a bad .atr does not stop them.
            beats = _annotate(
                model,
                path,
                detect=args.detect,
                annotator=None if args.detect else "atr",
                chunk_seconds=_chunk_seconds(args),
            )
            fs = beats.fs
            write_annotations(out_dir, name, args.ext, beats.samples, beats.pred, fs)
            summary = {"record": name, **summarize(beats.samples, beats.pred, fs)}
            write_json(out_dir / f"{name}.{args.ext}.json", summary)
            if args.plots:
                _save_strip(args.plots / f"{name}.png", path, model, beats)
        except (RecordError, OSError, ValueError) as exc:
            bad.add(path, exc)
            continue
        c = summary["beats_per_class"]
        print(
            f"{name}: {summary['n_beats']} beats ("
            + ", ".join(f"{k} {v}" for k, v in c.items())
            + f"), ectopic burden {summary['ectopic_burden_percent']:.1f}%, "
            f"mean heart rate {summary['mean_heart_rate_bpm']:.0f} bpm"
        )
    return bad.exit_code()


def cmd_monitor(args):
    """Each record's beats as JSON lines, decided as its signal arrives (see _ecg_monitor)."""
    model = load_trained_model(args)
    given = _ecg_monitor.settings(args, model)
    if not model.causal and "lookahead" not in given:
        own = model.monitor(fs=360.0, **given)
        print(
            "note: this model reads each beat in the context of its whole record, so beats "
            f"are decided {own.lookahead:g} to {own.lookahead + own.interval:g} s after "
            "their R peak; a model trained with --causal decides each within a second.",
            file=sys.stderr,
        )
    bad = BadFiles()
    for name in _record_names(args):
        path = Path(args.data_dir) / name
        try:
            summary = _ecg_monitor.monitor_record(model, path, args)
        except (RecordError, OSError, ValueError) as exc:
            bad.add(path, exc)
            continue
        print(_ecg_monitor.format_summary(summary), file=sys.stderr)
    return bad.exit_code()


# -- plots (--plots DIR) ------------------------------------------------------------


def _save_strip(path, record_path, model, beats, reference=None):
    """A 10-s strip of the record where the classes are most worth seeing."""
    fs, n = beats.fs, beats.n_samples
    start = busiest_window(
        beats.samples, beats.pred, reference, fs=fs, n_samples=n, seconds=STRIP_SECONDS
    )
    stop = min(start + int(STRIP_SECONDS * fs), n)
    # Filtered with 5 s of margin on either side: the filters' edge effects stay outside.
    lo, hi = max(start - int(5 * fs), 0), min(stop + int(5 * fs), n)
    x, _ = read_signal(record_path, lead=model.lead, start=lo, stop=hi)
    x = filter_ecg(x, fs=fs, baseline=model.baseline, lowpass=model.lowpass)
    fig = _plots.figure(figsize=(12, 3.5))
    plot_ecg_strip(
        x[start - lo : stop - lo],
        fs=fs,
        samples=beats.samples,
        predicted=beats.pred,
        reference=reference,
        start=start,
        ax=fig.subplots(),
        title=f"record {beats.name}, lead {beats.lead}, {start / fs:.0f}-{stop / fs:.0f} s",
    )
    _plots.save_figure(fig, path)


def cmd_crossval(args):
    """Record-grouped cross-validation: no patient in both training and validation."""
    bad = BadFiles()
    model = build_model(args)
    beats = _load(args, model, bad)
    pred = np.empty_like(beats.y)
    start = time.perf_counter()
    for fold, (train, test) in enumerate(
        GroupKFold(args.folds).split(beats.X, groups=beats.groups)
    ):
        model.set_params(random_state=fold + 1000 * args.seed)
        with interruptible(TrainingInterrupted):
            try:
                model.fit(beats.X[train], beats.y[train])
            except TrainingInterrupted:
                raise KeyboardInterrupt from None
        pred[test] = model.predict(beats.X[test])
        print(f"fold {fold}: records {' '.join(sorted(set(beats.groups[test])))}", file=sys.stderr)
    report = classification_statistics(beats.y, pred)
    report["params"] = model_params(model)
    report["seconds"] = time.perf_counter() - start
    report["per_record"] = {
        r: classification_statistics(beats.y[beats.groups == r], pred[beats.groups == r])
        for r in beats.records
    }
    if args.out:
        write_json(args.out, report)
    print(json.dumps(report) if args.json else format_report(report))
    return bad.exit_code()


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.ecg_arrhythmia", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, model=True):
        p.add_argument("--data-dir", required=True, type=Path, help="folder of WFDB records")
        p.add_argument("--records", nargs="+", help="record names (default: all in DIR)")
        p.add_argument("--include-paced", action="store_true", help="keep paced records")
        if model:
            p.add_argument("--model", required=True, type=Path, help="model file")

    def positive_int(text):
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError(f"at least 1, got {text}")
        return value

    def training(p):
        p.add_argument("--lead", default="MLII", help="lead name, or 0-based index (default MLII)")
        p.add_argument(
            "--kind",
            choices=["beat", "rhythm", "both"],
            default="both",
            help="one beat at a time (ArrhythmiaClassifier), each beat in the context of its "
            "record's beats (ArrhythmiaTagger), or both, their probabilities averaged (default); "
            "rhythm and both also average a linear model of the RR features (--rr-model)",
        )
        p.add_argument(
            "--rr-model",
            choices=["logistic", "none"],
            help="rhythm and both: a linear model of the RR features, averaged with the "
            "networks and with two thirds of the say in S against N (default logistic), or none",
        )
        p.add_argument(
            "--rr-context",
            type=rr_context_option,
            help="the RR model reads each beat against this many beats on either side "
            "(default 32), or none",
        )
        p.add_argument(
            "--rr-reference",
            choices=["mean", "median"],
            help="the RR model reads each beat against the mean (default) or the median RR of "
            "the beats around it",
        )
        p.add_argument(
            "--rr-s-weight",
            type=rr_s_weight_option,
            help="the RR model's share in telling S from N (default 2/3), or none: the plain "
            "average",
        )
        p.add_argument(
            "--af-irregularity",
            type=af_irregularity_option,
            help="rhythm and both: beats where the rhythm is this irregular (default 0.1) and "
            "no P wave shows are read as atrial fibrillation, never S; none: no such rule",
        )
        p.add_argument(
            "--n-fraction", type=float, help="classifier: share of N beats kept (default 0.5)"
        )
        p.add_argument(
            "--weight-power",
            type=float,
            help="class weight exponent (default 0.5; tagger and its RR model 1)",
        )
        p.add_argument(
            "--unweighted",
            nargs="*",
            default=["F"],
            help="classes kept at the weight of N (every model's)",
        )
        p.add_argument("--folds", type=int, default=5, help="record-grouped folds")
        p.add_argument("--threads", type=int, default=None, help="torch threads")
        p.add_argument(
            "--train-classes",
            nargs="+",
            choices=["N", "S", "V", "F"],
            help="classifier: classes trained on (default all four; Q never is)",
        )
        p.add_argument(
            "--static",
            choices=["repeat", "drop", "head"],
            help="classifier's RR features: channels at every step (default), left out, or "
            "at the output layer only",
        )
        p.add_argument("--hidden-size", type=int, help="LSTM units (default 64)")
        p.add_argument(
            "--max-iter", type=int, help="epochs (default 20; tagger: about 1,500 updates)"
        )
        p.add_argument(
            "--pooling",
            choices=["last", "mean", "max", "attention"],
            help="classifier's pooling (default last)",
        )
        p.add_argument("--seed", type=int, default=0, help="seed of the N sampling and network")
        p.add_argument(
            "--causal",
            action="store_true",
            help="a causal model: each beat read from the signal up to 0.45 s after its R "
            "peak alone, so that `monitor` decides it within a second with the class "
            "`annotate` gives (finds fewer S beats: no pause after them is read)",
        )
        p.add_argument(
            "--ensemble",
            type=positive_int,
            help="classifiers fitted with different seeds, their probabilities averaged "
            "(default 1; the tagger of --kind both stays one)",
        )

    def plots(p):
        p.add_argument("--plots", type=Path, metavar="DIR", help="also save PNG plots in DIR")

    def chunk_minutes(text):
        value = float(text)
        if value != 0 and not 1 <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"0 (never) or at least 1 minute, got {text}")
        return value

    def chunks(p):
        p.add_argument(
            "--chunk-minutes",
            type=chunk_minutes,
            default=60.0,
            help="longer records are read a stretch at a time (bounded memory); 0: never",
        )

    p = sub.add_parser("train", help="train a heartbeat model")
    common(p)
    training(p)
    p.add_argument("--search", action="store_true", help="grid search grouped by record")
    p.add_argument(
        "--checkpoint",
        type=Path,
        metavar="CKPT",
        help="checkpoint every epoch (--kind both: the classifier's to CKPT.beat)",
    )
    p.add_argument("--resume", action="store_true", help="resume from the --checkpoint")
    plots(p)

    def lead_of_the_model(p):
        p.add_argument(
            "--lead",
            help="lead name, or 0-based index (default: the lead the model was trained on)",
        )

    p = sub.add_parser("evaluate", help="EC57 statistics against the reference annotations")
    common(p)
    lead_of_the_model(p)
    p.add_argument("--detect", action="store_true", help="detect the beats instead")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    plots(p)
    chunks(p)
    p = sub.add_parser("annotate", help="write predicted beat annotations")
    common(p)
    lead_of_the_model(p)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--ext", default="pred", help="annotation file extension (default pred)")
    p.add_argument("--detect", action="store_true", help="detect the beats instead")
    plots(p)
    chunks(p)
    p = sub.add_parser(
        "monitor", help="classify each beat as the signal arrives, one JSON line per beat"
    )
    common(p)
    lead_of_the_model(p)
    _ecg_monitor.add_arguments(p)
    p = sub.add_parser("crossval", help="record-grouped cross-validation")
    common(p, model=False)
    training(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", type=Path, help="also save the report as JSON")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if getattr(args, "plots", None):
        _plots.require()
    commands = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "annotate": cmd_annotate,
        "monitor": cmd_monitor,
        "crossval": cmd_crossval,
    }
    try:
        return commands[args.command](args)
    except KeyboardInterrupt:
        # Every file written so far is complete (atomic writes); nothing else was.
        print(f"interrupted (Ctrl-C) during {args.command}: stopped.", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    run_program(main)
