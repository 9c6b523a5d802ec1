"""Classify every heartbeat of ECG records into the AAMI classes N, S, V, F, Q.

    python -m pipelines.ecg_arrhythmia train --data-dir DIR [--records R ...] --model FILE
        [--search] [--checkpoint CKPT [--resume]] [--plots PLOTS]
    python -m pipelines.ecg_arrhythmia evaluate --model FILE --data-dir DIR [--records R ...]
        [--detect] [--json] [--plots PLOTS]
    python -m pipelines.ecg_arrhythmia annotate --model FILE --data-dir DIR [--records R ...]
        --out-dir OUT [--ext pred] [--detect] [--plots PLOTS]
    python -m pipelines.ecg_arrhythmia crossval --data-dir DIR [--records R ...] [--folds 5]
        [--json]

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
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, SequenceScaler
from sklstm.checkpoint import ResumableCheckpoint, load_checkpoint
from sklstm.ecg import (
    AAMI_CLASSES,
    PACED_RECORDS,
    RR_RATIOS,
    BeatSequences,
    RecordError,
    filter_ecg,
    list_records,
    load_beats,
    plot_ecg_strip,
    read_beats,
    read_signal,
)
from sklstm.ecg._metrics import classification_statistics, detection_statistics
from sklstm.ecg._plot import busiest_window
from sklstm.io import ModelFileError

from . import _plots
from ._cli import (
    INTERRUPTED,
    BadFiles,
    TrainingInterrupted,
    interruptible,
    load_model,
    save_model,
    write_json,
)

# Chosen by record-grouped cross-validation on DS1 (docs/ecg_arrhythmia.md).
EXTRACT = dict(
    before=0.25,
    after=0.45,
    sampling_rate=90.0,
    baseline="highpass",
    lowpass=35.0,
    relative=True,
    rr=RR_RATIOS,
)
# The settings these figures were measured with, from before the library's
# defaults gained a front end and a one-cycle budget (a beat is 72 steps).
NETWORK = dict(
    hidden_size=64,
    batch_size=128,
    learning_rate_init=3e-3,
    max_iter=20,
    pooling="last",
    frontend=None,
    learning_rate="constant",
)
SEARCH_GRID = {
    "lstmclassifier__hidden_size": [32, 64],
    "beatsequences__static": ["repeat", "drop"],
}
# Beats classified at once: bounds the memory of the sequences built from
# them (a 24-hour record has over 100,000 beats). Predictions do not depend
# on how the beats are batched.
PREDICT_BATCH = 8192
# Length of the ECG strips drawn with --plots.
STRIP_SECONDS = 10.0
# What `train` saves and the other commands read.
MODEL_KEYS = ("model", "extract", "lead")


def build_model(*, static="repeat", random_state=0, **network):
    """Beat table -> sequences with RR channels -> standardization -> LSTM.

    ``static``: the RR features repeated as channels at every step
    (``"repeat"``), left out (``"drop"``), or given to the network's output
    layer next to the pooled state only (``"head"``: repeated by
    :class:`BeatSequences`, then read by the classifier's
    ``n_static_features`` instead of the recurrent layers).
    """
    params = {**NETWORK, **network}
    n_static = len(EXTRACT["rr"])
    if static == "head":
        params["n_static_features"] = n_static
    return make_pipeline(
        BeatSequences(
            n_signals=2 if EXTRACT["relative"] else 1,
            n_static=n_static,
            static="drop" if static == "drop" else "repeat",
        ),
        SequenceScaler(),
        LSTMClassifier(random_state=random_state, **params),
    )


def class_weights(y, *, power=0.5, unweighted=("F",)):
    """Inverse class frequencies to ``power``: 1 is "balanced", 0.5 its square root.

    Full balancing would weigh a rare class's beats hundreds of times more
    than normal beats; the square root still lifts S and V without drowning
    N. Classes in ``unweighted`` keep N's weight: 90% of DS1's F beats come
    from one record (208), and boosting them taught that patient's beats,
    turning 1,444 normal beats of other patients into F for 24 right ones in
    record-grouped cross-validation.
    """
    labels, counts = np.unique(y, return_counts=True)
    weights = dict(zip(labels.tolist(), ((len(y) / (len(labels) * counts)) ** power).tolist()))
    for label in unweighted:
        if label in weights and "N" in weights:
            weights[label] = weights["N"]
    return weights


def undersample(y, *, fraction, rng, classes=("N", "S", "V", "F")):
    """Indices keeping every beat of ``classes`` but N, and ``fraction`` of the N beats.

    Q beats are always left out: DS1 has 8, too few to learn a class from,
    and their weight would only turn normal beats into Q. The N beats drawn
    do not depend on ``classes``.
    """
    others = [c for c in classes if c not in ("N", "Q")]
    sampled = rng.random_sample(len(y)) < fraction
    keep = np.isin(y, others) | ((y == "N") & sampled & ("N" in classes))
    return np.flatnonzero(keep)


def fit_model(
    X,
    y,
    *,
    n_fraction=0.5,
    weight_power=0.5,
    unweighted=("F",),
    train_classes=("N", "S", "V", "F"),
    random_state=0,
    callbacks=None,
    resume=None,
    **model_params,
):
    """Fit :func:`build_model` on beats, handling the class imbalance.

    The N beats kept are drawn from ``random_state``, so that a fit resumed
    from a checkpoint (``resume``: the classifier that
    :func:`~sklstm.checkpoint.load_checkpoint` returns) trains on the same
    beats and ends as the uninterrupted fit would have. ``callbacks`` are the
    classifier's (e.g. a :class:`~sklstm.checkpoint.ResumableCheckpoint`);
    the fitted model keeps none, so that it saves as data. Beats of classes
    not in ``train_classes`` are left out of training (the model never
    predicts those classes).
    """
    rng = np.random.RandomState(random_state)
    idx = undersample(y, fraction=n_fraction, rng=rng, classes=train_classes)
    model = build_model(random_state=random_state, **model_params)
    weights = class_weights(y[idx], power=weight_power, unweighted=unweighted)
    model.set_params(lstmclassifier__class_weight=weights, lstmclassifier__callbacks=callbacks)
    if resume is not None:
        _check_same_settings(resume, model.steps[-1][1])
        model.steps[-1] = (model.steps[-1][0], resume)
    # The steps are fitted one by one rather than by Pipeline.fit: while it fits
    # the last step, scikit-learn (>= 1.9) hangs a callback context on it that
    # the data-only format cannot save, and a checkpoint is saved mid-fit.
    Xt, yt = X[idx], y[idx]
    for _, transformer in model.steps[:-1]:
        Xt = transformer.fit_transform(Xt, yt)
    with warnings.catch_warnings():
        # The epoch budget is fixed on purpose (chosen by cross-validation).
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.steps[-1][1].fit(Xt, yt)
    model.steps[-1][1].set_params(callbacks=None)
    return model


class SeedEnsemble(ClassifierMixin, BaseEstimator):
    """Mean class probabilities of models fitted with different seeds.

    Built by :func:`fit_ensemble` with ``ensemble > 1``: each member draws its
    own N beats and initial weights. ``estimators_`` are the fitted members,
    ``classes_`` the union of their classes.
    """

    def __init__(self, *, size=3):
        self.size = size

    def _set_members(self, estimators):
        self.estimators_ = list(estimators)
        self.classes_ = np.unique(np.concatenate([m.classes_ for m in self.estimators_]))
        return self

    def predict_proba(self, X):
        proba = np.zeros((len(X), len(self.classes_)))
        for member in self.estimators_:
            cols = np.searchsorted(self.classes_, member.classes_)
            proba[:, cols] += member.predict_proba(X)
        return proba / len(self.estimators_)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def fit_ensemble(X, y, *, ensemble=1, random_state=0, **params):
    """:func:`fit_model`, or a :class:`SeedEnsemble` of ``ensemble`` of them."""
    if ensemble <= 1:
        return fit_model(X, y, random_state=random_state, **params)
    members = [
        fit_model(X, y, random_state=random_state + 7919 * k, **params) for k in range(ensemble)
    ]
    return SeedEnsemble(size=ensemble)._set_members(members)


def _check_same_settings(resumed, fresh):
    """Refuse to resume a checkpoint written with other training settings."""
    theirs, ours = resumed.get_params(), fresh.get_params()
    # class_weight follows from the beats kept, which the checkpoint's digest of
    # the training data checks with a message that names the actual cause.
    derived = ("callbacks", "class_weight")
    differ = [k for k in ours if k not in derived and theirs.get(k) != ours[k]]
    if differ:
        shown = ", ".join(f"{k}={theirs.get(k)!r} (now {ours[k]!r})" for k in differ[:3])
        raise SystemExit(
            f"error: the checkpoint was written with other training settings: {shown}. "
            "Resume with the options of the interrupted run, or start again without --resume."
        )


def _training_params(args):
    return dict(
        n_fraction=args.n_fraction,
        weight_power=args.weight_power,
        unweighted=args.unweighted,
        train_classes=args.train_classes,
        static=args.static,
        hidden_size=args.hidden_size,
        max_iter=args.max_iter,
        pooling=args.pooling,
        ensemble=args.ensemble,
    )


def _record_names(args):
    names = args.records or list_records(args.data_dir)
    return [n for n in names if args.include_paced or n not in PACED_RECORDS]


def _chunk_seconds(args):
    return 60.0 * args.chunk_minutes if args.chunk_minutes > 0 else None


def _load(args, bad, r_peaks="reference"):
    beats = load_beats(
        args.data_dir,
        _record_names(args),
        lead=args.lead,
        r_peaks=r_peaks,
        exclude_paced=not args.include_paced,
        n_jobs=2,
        errors="collect",
        **EXTRACT,
    )
    for path, reason in beats.failures:
        bad.add(path, reason)
    if not beats.records:
        raise SystemExit(f"error: no readable record in {args.data_dir}.")
    return beats


def cmd_train(args):
    if args.resume and not args.checkpoint:
        raise SystemExit("error: --resume needs --checkpoint CKPT (the interrupted run's).")
    if args.ensemble > 1 and (args.checkpoint or args.search):
        raise SystemExit("error: --ensemble does not go with --checkpoint or --search.")
    if args.search and args.checkpoint:
        raise SystemExit("error: --checkpoint and --resume are for one fit, not --search.")
    resume = _resumed_classifier(args.checkpoint) if args.resume else None
    bad = BadFiles()
    beats = _load(args, bad)
    start = time.perf_counter()
    interrupted = False
    if args.search:
        model = _search(args, beats)
    else:
        callbacks = [ResumableCheckpoint(args.checkpoint)] if args.checkpoint else None
        # A Ctrl-C that ends one member of an ensemble stops the whole run.
        with interruptible(
            KeyboardInterrupt if args.ensemble <= 1 else TrainingInterrupted
        ) as state:
            try:
                model = fit_ensemble(
                    beats.X,
                    beats.y,
                    random_state=args.seed,
                    callbacks=callbacks,
                    resume=resume,
                    **_training_params(args),
                )
            except TrainingInterrupted:
                raise KeyboardInterrupt from None
            except ValueError as exc:
                if resume is None:
                    raise
                raise SystemExit(f"error: cannot resume from {args.checkpoint}: {exc}") from None
        # (An ensemble stops at Ctrl-C without a model, above.)
        interrupted = state["interrupted"]
    elapsed = time.perf_counter() - start
    try:
        save_model({"model": model, "extract": EXTRACT, "lead": args.lead}, args.model)
    except KeyboardInterrupt:
        kept = f"; {args.checkpoint} holds the last completed epoch" if args.checkpoint else ""
        print(f"interrupted while saving: {args.model} was not written{kept}.", file=sys.stderr)
        return INTERRUPTED
    if args.plots:
        first = model.estimators_[0] if isinstance(model, SeedEnsemble) else model
        try:
            _plots.save_training_history(args.plots / "training_history.png", first)
        except KeyboardInterrupt:
            print(
                f"interrupted while drawing the plots: the model is saved to {args.model}.",
                file=sys.stderr,
            )
            return INTERRUPTED
    if interrupted:
        classifier = model.steps[-1][1]
        resume_hint = f"; resume with --checkpoint {args.checkpoint} --resume"
        print(
            f"interrupted (Ctrl-C) after {classifier.n_iter_} of {classifier.max_iter} epochs: "
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


def _search(args, beats):
    """Grid search grouped by record; Ctrl-C ends it without a model."""
    rng = np.random.RandomState(args.seed)
    idx = undersample(beats.y, fraction=args.n_fraction, rng=rng, classes=args.train_classes)
    # The grid sets hidden_size and static; the other settings are the command's.
    model = build_model(max_iter=args.max_iter, pooling=args.pooling, random_state=args.seed)
    model.set_params(
        lstmclassifier__class_weight=class_weights(
            beats.y[idx], power=args.weight_power, unweighted=args.unweighted
        )
    )
    scorer = make_scorer(f1_score, average="macro", labels=["N", "S", "V"])
    search = GridSearchCV(
        model, SEARCH_GRID, scoring=scorer, cv=GroupKFold(args.folds), error_score="raise"
    )
    with warnings.catch_warnings(), interruptible(TrainingInterrupted):
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            search.fit(beats.X[idx], beats.y[idx], groups=beats.groups[idx])
        except TrainingInterrupted:
            raise KeyboardInterrupt from None
    print(f"best {search.best_params_}: macro F1 (N, S, V) {search.best_score_:.3f}")
    return search.best_estimator_


def _predict_record(bundle, path, *, detect, annotator, chunk_seconds):
    """Read, extract and classify one record; the beats with their predictions."""
    try:
        beats = read_beats(
            path,
            lead=bundle["lead"],
            annotator=annotator,
            r_peaks="detect" if detect else "reference",
            chunk_seconds=chunk_seconds,
            **bundle["extract"],
        )
    except RecordError as exc:
        if detect or not str(exc).startswith(f"{path}.atr:"):
            raise
        raise RecordError(f"{exc} Without annotations, use --detect.") from None
    beats.pred = predict(bundle["model"], beats.X)
    return beats


def predict(model, X, *, batch=PREDICT_BATCH):
    """Classes of the beats, ``batch`` at a time (bounded memory)."""
    parts = [model.predict(X[i : i + batch]) for i in range(0, len(X), batch)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype="<U1")


def _load_model(args):
    """The model bundle; ``--lead`` overrides the lead it was trained on."""
    bundle = load_model(args.model, kind="heartbeat-classification", keys=MODEL_KEYS)
    if args.lead is not None:
        bundle["lead"] = args.lead
    return bundle


def cmd_evaluate(args):
    bundle = _load_model(args)
    bad = BadFiles()
    y_true, y_pred, per_record = [], [], {}
    n_ref = n_det = n_matched = n_excused = 0
    for name in _record_names(args):
        path = Path(args.data_dir) / name
        try:
            beats = _predict_record(
                bundle,
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
                _save_strip(args.plots / f"{name}.png", path, bundle, beats, reference=beats.y)
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


def format_report(report):
    """A readable EC57-style report."""
    lines = [f"{report['n_beats']} beats, accuracy {100 * report['accuracy']:.2f}%"]
    if "detection" in report:
        d = report["detection"]
        lines.append(
            f"beat detection (150 ms): Se {100 * d['se']:.2f}%  +P {100 * d['ppv']:.2f}%  "
            f"(TP {d['tp']}, FN {d['fn']}, FP {d['fp']})"
        )
    lines.append(f"{'class':>5} {'Se %':>7} {'+P %':>7} {'F1 %':>7} {'support':>8}")
    for label, c in report["classes"].items():
        lines.append(
            f"{label:>5} {100 * c['se']:7.2f} {100 * c['ppv']:7.2f} {100 * c['f1']:7.2f} "
            f"{c['support']:8d}"
        )
    labels = report["labels"]
    lines.append("confusion matrix (rows: reference, columns: predicted)")
    lines.append("      " + "".join(f"{label:>7}" for label in labels))
    for label, row in zip(labels, report["confusion_matrix"]):
        lines.append(f"{label:>5} " + "".join(f"{v:7d}" for v in row))
    return "\n".join(lines)


def summarize(samples, classes, fs):
    """Beats per class, ectopic burden and mean heart rate of one record."""
    counts = {label: int((classes == label).sum()) for label in AAMI_CLASSES}
    n = len(classes)
    burden = lambda k: 100.0 * k / n if n else 0.0  # noqa: E731
    duration = (samples[-1] - samples[0]) / fs if n > 1 else 0.0
    return {
        "n_beats": n,
        "beats_per_class": counts,
        "ectopic_burden_percent": burden(counts["S"] + counts["V"]),
        "supraventricular_burden_percent": burden(counts["S"]),
        "ventricular_burden_percent": burden(counts["V"]),
        "mean_heart_rate_bpm": 60.0 * (n - 1) / duration if duration > 0 else 0.0,
    }


def write_annotations(out_dir, name, ext, samples, symbols, fs):
    """``OUT/<name>.<ext>`` with wfdb.wrann, moved into place only when complete.

    wfdb.wrann writes its file directly; it writes into a temporary folder
    inside OUT (the same file system), and the finished file is renamed onto
    the old one, so a kill never leaves a half-written annotation file.
    """
    import wfdb

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".wrann.") as tmp:
        wfdb.wrann(
            name, ext, np.asarray(samples, dtype=np.int64), symbol=list(symbols),
            fs=fs, write_dir=tmp,
        )  # fmt: skip
        os.replace(Path(tmp) / f"{name}.{ext}", out_dir / f"{name}.{ext}")


def cmd_annotate(args):
    bundle = _load_model(args)
    bad = BadFiles()
    out_dir = Path(args.out_dir)
    for name in _record_names(args):
        path = Path(args.data_dir) / name
        try:
            # Detected beats need no reference: a bad .atr does not stop them.
            beats = _predict_record(
                bundle,
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
                _save_strip(args.plots / f"{name}.png", path, bundle, beats)
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


# -- plots (--plots DIR) ------------------------------------------------------------


def _save_strip(path, record_path, bundle, beats, reference=None):
    """A 10-s strip of the record where the classes are most worth seeing."""
    fs, n = beats.fs, beats.n_samples
    start = busiest_window(
        beats.samples, beats.pred, reference, fs=fs, n_samples=n, seconds=STRIP_SECONDS
    )
    stop = min(start + int(STRIP_SECONDS * fs), n)
    # Filtered with 5 s of margin on either side: the filters' edge effects stay outside.
    lo, hi = max(start - int(5 * fs), 0), min(stop + int(5 * fs), n)
    x, _ = read_signal(record_path, lead=bundle["lead"], start=lo, stop=hi)
    extract = bundle["extract"]
    x = filter_ecg(x, fs=fs, baseline=extract["baseline"], lowpass=extract["lowpass"])
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
    beats = _load(args, bad)
    pred = np.empty_like(beats.y)
    start = time.perf_counter()
    params = _training_params(args)
    for fold, (train, test) in enumerate(
        GroupKFold(args.folds).split(beats.X, groups=beats.groups)
    ):
        seed = fold + 1000 * args.seed
        with interruptible(TrainingInterrupted):
            try:
                model = fit_ensemble(beats.X[train], beats.y[train], random_state=seed, **params)
            except TrainingInterrupted:
                raise KeyboardInterrupt from None
        pred[test] = predict(model, beats.X[test])
        print(f"fold {fold}: records {sorted(set(beats.groups[test]))}", file=sys.stderr)
    report = classification_statistics(beats.y, pred)
    report["params"] = params
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
        p.add_argument("--n-fraction", type=float, default=0.5, help="share of N beats kept")
        p.add_argument("--weight-power", type=float, default=0.5, help="class weight exponent")
        p.add_argument(
            "--unweighted", nargs="*", default=["F"], help="classes kept at the weight of N"
        )
        p.add_argument("--folds", type=int, default=5, help="record-grouped folds")
        p.add_argument("--threads", type=int, default=None, help="torch threads")
        p.add_argument(
            "--train-classes",
            nargs="+",
            choices=["N", "S", "V", "F"],
            default=["N", "S", "V", "F"],
            help="classes whose beats are trained on (Q never is)",
        )
        p.add_argument(
            "--static",
            choices=["repeat", "drop", "head"],
            default="repeat",
            help="RR features: channels at every step, left out, or at the output layer only",
        )
        p.add_argument("--hidden-size", type=int, default=NETWORK["hidden_size"])
        p.add_argument("--max-iter", type=int, default=NETWORK["max_iter"])
        p.add_argument("--pooling", default="last", choices=["last", "mean", "max", "attention"])
        p.add_argument("--seed", type=int, default=0, help="seed of the N sampling and network")
        p.add_argument(
            "--ensemble",
            type=positive_int,
            default=1,
            help="models fitted with different seeds, their probabilities averaged",
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

    p = sub.add_parser("train", help="train a beat classifier")
    common(p)
    training(p)
    p.add_argument("--search", action="store_true", help="grid search grouped by record")
    p.add_argument("--checkpoint", type=Path, metavar="CKPT", help="checkpoint every epoch")
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
