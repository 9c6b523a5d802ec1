"""Classify every heartbeat of ECG records into the AAMI classes N, S, V, F, Q.

    python -m pipelines.ecg_arrhythmia train --data-dir DIR [--records R ...] --model FILE
        [--search]
    python -m pipelines.ecg_arrhythmia evaluate --model FILE --data-dir DIR [--records R ...]
        [--detect] [--json]
    python -m pipelines.ecg_arrhythmia annotate --model FILE --data-dir DIR [--records R ...]
        --out-dir OUT [--ext pred] [--detect]
    python -m pipelines.ecg_arrhythmia crossval --data-dir DIR [--records R ...] [--folds 5]
        [--json]

Without ``--records``, every record of DIR (its RECORDS file, else every .hea);
paced records are left out. Bad records are listed with the reason, the good
ones processed, and the exit status is non-zero at the end. See
docs/ecg_arrhythmia.md for the design and the measured figures.
"""

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
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, SequenceScaler
from sklstm.ecg import (
    AAMI_CLASSES,
    PACED_RECORDS,
    RR_RATIOS,
    BeatSequences,
    RecordError,
    extract_beats,
    list_records,
    read_record,
)
from sklstm.ecg._collection import load_beats
from sklstm.ecg._metrics import classification_statistics, detection_statistics

from ._cli import BadFiles, load_model, save_model, write_json

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
NETWORK = dict(hidden_size=64, batch_size=128, learning_rate_init=3e-3, max_iter=20)
SEARCH_GRID = {
    "lstmclassifier__hidden_size": [32, 64],
    "beatsequences__static": ["repeat", "drop"],
}


def build_model(*, static="repeat", random_state=0, **network):
    """Beat table -> sequences with RR channels -> standardization -> LSTM."""
    params = {**NETWORK, **network}
    return make_pipeline(
        BeatSequences(
            n_signals=2 if EXTRACT["relative"] else 1, n_static=len(EXTRACT["rr"]), static=static
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


def undersample(y, *, fraction, rng):
    """Indices keeping every S, V, F beat and ``fraction`` of the N beats.

    Q beats are left out: DS1 has 8, too few to learn a class from, and their
    weight would only turn normal beats into Q.
    """
    keep = np.isin(y, ["S", "V", "F"]) | ((y == "N") & (rng.random_sample(len(y)) < fraction))
    return np.flatnonzero(keep)


def fit_model(
    X, y, *, n_fraction=0.5, weight_power=0.5, unweighted=("F",), random_state=0, **model_params
):
    """Fit :func:`build_model` on beats, handling the class imbalance."""
    rng = np.random.RandomState(random_state)
    idx = undersample(y, fraction=n_fraction, rng=rng)
    model = build_model(random_state=random_state, **model_params)
    weights = class_weights(y[idx], power=weight_power, unweighted=unweighted)
    model.set_params(lstmclassifier__class_weight=weights)
    with warnings.catch_warnings():
        # The epoch budget is fixed on purpose (chosen by cross-validation).
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X[idx], y[idx])


def _training_params(args):
    return dict(
        n_fraction=args.n_fraction,
        weight_power=args.weight_power,
        unweighted=args.unweighted,
        static=args.static,
        hidden_size=args.hidden_size,
        max_iter=args.max_iter,
        pooling=args.pooling,
    )


def _record_names(args):
    names = args.records or list_records(args.data_dir)
    return [n for n in names if args.include_paced or n not in PACED_RECORDS]


def _load(args, bad, r_peaks="reference"):
    beats = load_beats(
        args.data_dir,
        _record_names(args),
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
    bad = BadFiles()
    beats = _load(args, bad)
    start = time.perf_counter()
    params = _training_params(args)
    if args.search:
        rng = np.random.RandomState(0)
        idx = undersample(beats.y, fraction=args.n_fraction, rng=rng)
        model = build_model(max_iter=args.max_iter)
        model.set_params(
            lstmclassifier__class_weight=class_weights(
                beats.y[idx], power=args.weight_power, unweighted=args.unweighted
            )
        )
        scorer = make_scorer(f1_score, average="macro", labels=["N", "S", "V"])
        search = GridSearchCV(model, SEARCH_GRID, scoring=scorer, cv=GroupKFold(args.folds))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(beats.X[idx], beats.y[idx], groups=beats.groups[idx])
        print(f"best {search.best_params_}: macro F1 (N, S, V) {search.best_score_:.3f}")
        model = search.best_estimator_
    else:
        model = fit_model(beats.X, beats.y, **params)
    elapsed = time.perf_counter() - start
    save_model({"model": model, "extract": EXTRACT, "lead": args.lead}, args.model)
    print(f"trained on {len(beats.y)} beats of {len(beats.records)} records in {elapsed:.0f} s")
    print(f"model saved to {args.model}")
    return bad.exit_code()


def _predict_record(bundle, path, *, detect, need_reference):
    """Read, extract and classify one record; the beats with their predictions."""
    record = read_record(path, lead=bundle["lead"], annotator="atr" if need_reference else None)
    if not detect and len(record.beat_samples) < 2:
        raise RecordError(
            f"{path}.atr: fewer than two reference beats (without annotations, use --detect)."
        )
    try:
        beats = extract_beats(
            record, r_peaks="detect" if detect else "reference", **bundle["extract"]
        )
    except ValueError as exc:  # fewer than two beats detected
        raise RecordError(f"{path}.dat: {exc}") from None
    beats.pred = bundle["model"].predict(beats.X)
    beats.record = record
    return beats


def _has_annotations(path):
    return Path(f"{path}.atr").is_file()


def cmd_evaluate(args):
    bundle = load_model(args.model)
    bad = BadFiles()
    y_true, y_pred, per_record = [], [], {}
    n_ref = n_det = n_matched = n_excused = 0
    for name in _record_names(args):
        path = Path(args.data_dir) / name
        try:
            beats = _predict_record(bundle, path, detect=args.detect, need_reference=True)
        except RecordError as exc:
            bad.add(path, exc)
            continue
        matched = beats.y != ""
        if args.detect:
            record = beats.record
            unmatched = beats.samples[~matched]
            in_vf = np.zeros(len(unmatched), dtype=bool)
            for start, end in record.vf_episodes:
                in_vf |= (unmatched >= start) & (unmatched <= end)
            n_ref += len(record.beat_samples)
            n_det += len(beats.samples)
            n_matched += int(matched.sum())
            n_excused += int(in_vf.sum())
        stats = classification_statistics(beats.y[matched], beats.pred[matched])
        del stats["labels"]
        per_record[name] = stats
        y_true.append(beats.y[matched])
        y_pred.append(beats.pred[matched])
    if not per_record:
        bad.report()
        return 1
    report = classification_statistics(np.concatenate(y_true), np.concatenate(y_pred))
    if args.detect:
        report["detection"] = detection_statistics(n_ref, n_det, n_matched, n_excused=n_excused)
    report["per_record"] = per_record
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
    """``OUT/<name>.<ext>`` with wfdb.wrann, moved into place only when complete."""
    import wfdb

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".wrann.") as tmp:
        wfdb.wrann(
            name, ext, np.asarray(samples, dtype=np.int64), symbol=list(symbols),
            fs=fs, write_dir=tmp,
        )  # fmt: skip
        os.replace(Path(tmp) / f"{name}.{ext}", out_dir / f"{name}.{ext}")


def cmd_annotate(args):
    bundle = load_model(args.model)
    bad = BadFiles()
    out_dir = Path(args.out_dir)
    for name in _record_names(args):
        path = Path(args.data_dir) / name
        try:
            beats = _predict_record(
                bundle, path, detect=args.detect, need_reference=_has_annotations(path)
            )
        except RecordError as exc:
            bad.add(path, exc)
            continue
        fs = beats.record.fs
        write_annotations(out_dir, name, args.ext, beats.samples, beats.pred, fs)
        summary = {"record": name, **summarize(beats.samples, beats.pred, fs)}
        write_json(out_dir / f"{name}.{args.ext}.json", summary)
        c = summary["beats_per_class"]
        print(
            f"{name}: {summary['n_beats']} beats ("
            + ", ".join(f"{k} {v}" for k, v in c.items())
            + f"), ectopic burden {summary['ectopic_burden_percent']:.1f}%, "
            f"mean heart rate {summary['mean_heart_rate_bpm']:.0f} bpm"
        )
    return bad.exit_code()


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
        model = fit_model(beats.X[train], beats.y[train], random_state=seed, **params)
        pred[test] = model.predict(beats.X[test])
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

    def training(p):
        p.add_argument("--lead", default="MLII", help="lead name (default MLII)")
        p.add_argument("--n-fraction", type=float, default=0.5, help="share of N beats kept")
        p.add_argument("--weight-power", type=float, default=0.5, help="class weight exponent")
        p.add_argument(
            "--unweighted", nargs="*", default=["F"], help="classes kept at the weight of N"
        )
        p.add_argument("--folds", type=int, default=5, help="record-grouped folds")
        p.add_argument("--threads", type=int, default=None, help="torch threads")
        p.add_argument("--static", choices=["repeat", "drop"], default="repeat")
        p.add_argument("--hidden-size", type=int, default=NETWORK["hidden_size"])
        p.add_argument("--max-iter", type=int, default=NETWORK["max_iter"])
        p.add_argument("--pooling", default="last", choices=["last", "mean", "max", "attention"])

    p = sub.add_parser("train", help="train a beat classifier")
    common(p)
    training(p)
    p.add_argument("--search", action="store_true", help="grid search grouped by record")
    p = sub.add_parser("evaluate", help="EC57 statistics against the reference annotations")
    common(p)
    p.add_argument("--detect", action="store_true", help="detect the beats instead")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p = sub.add_parser("annotate", help="write predicted beat annotations")
    common(p)
    p.add_argument("--out-dir", required=True, type=Path)
    p.add_argument("--ext", default="pred", help="annotation file extension (default pred)")
    p.add_argument("--detect", action="store_true", help="detect the beats instead")
    p = sub.add_parser("crossval", help="record-grouped cross-validation")
    common(p, model=False)
    training(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", type=Path, help="also save the report as JSON")
    p.add_argument("--seed", type=int, default=0, help="another seed gauges the noise")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    commands = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "annotate": cmd_annotate,
        "crossval": cmd_crossval,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
