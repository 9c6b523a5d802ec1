"""Peak memory of inference on large inputs: bounded, not growing with the activations.

    python -m benchmarks.memory [--quick] [--only ab] [--json FILE] [--model FILE] [--workdir DIR]

Every measurement runs in a fresh Python process (one thread), so that peaks
do not mix: the process imports what it needs and builds its input, then the
kernel's high-water mark of resident memory (VmHWM) is reset through
/proc/self/clear_refs, the call runs, and the high-water mark is read again.
"working" is that peak minus the resident memory just before the call: what
the call itself needed on top of its input. (Where the mark cannot be reset,
the whole process's peak, ru_maxrss, is reported and flagged.)

Measures:
  a  LSTMClassifier.predict / predict_proba over 100,000 ragged sequences
     (lengths 20-200, 4 features, hidden 32) against 10,000: the working
     memory grows with the input (one packed copy of it, the outputs), not
     with the activations of all sequences at once.
  b  the ECG app's ``annotate`` of a 24-hour record (MIT-BIH records end to
     end, about 31 million samples at 360 Hz) against one 30-minute record,
     with the app's chunking (--chunk-minutes 60), and for contrast with the
     24-hour record read at once (--chunk-minutes 0); wall time of each. Needs
     the records in $SKLSTM_DATA/mitdb; skipped without them. Without
     --model, a small model is trained first (records 101 and 106, 3 epochs).

--quick runs the same code at small sizes: predict over 1,000 vs 5,000
sequences; a 90-minute record against a 30-minute one, 10-minute chunks,
reference beats only, and a 1-epoch model.

The machines are shared: times depend on what else runs; the load average at
the start and the end is recorded with the results.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

FULL = dict(
    sequences=[10_000, 100_000],
    min_len=20,
    max_len=200,
    features=4,
    hidden=32,
    hours=24.0,
    chunk_minutes=60.0,
    whole_record=True,
    methods=["predict", "predict_proba"],
    detect=True,
)
QUICK = dict(
    sequences=[1_000, 5_000],
    min_len=20,
    max_len=200,
    features=4,
    hidden=8,
    hours=1.5,
    chunk_minutes=10.0,
    whole_record=False,
    methods=["predict"],
    detect=False,
)
MB = 2**20


# -- in the child process -------------------------------------------------------------


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak():
    """Reset the kernel's high-water mark of resident memory; False if it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kb("VmHWM") <= _status_kb("VmRSS") + 1024
    except OSError:
        return False


def _measured(fn):
    """Run ``fn``; its seconds, the RSS before it, the peak RSS during it (bytes)."""
    before = _status_kb("VmRSS") * 1024
    reset = _reset_peak()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    if reset:
        peak = _status_kb("VmHWM") * 1024
    else:  # ru_maxrss is in kB on Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return value, {
        "seconds": seconds,
        "rss_before": before,
        "peak_rss": peak,
        "working": peak - before,
        "peak_is_whole_process": not reset,
    }


def ragged_sequences(n, *, min_len, max_len, features, seed=0):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(min_len, max_len + 1, size=n)
    return [rng.standard_normal((int(t), features)).astype(np.float32) for t in lengths]


def child_predict(spec):
    import torch

    torch.set_num_threads(1)
    import sklstm

    clf = sklstm.load(spec["model"])
    rss_empty = _status_kb("VmRSS") * 1024
    X = ragged_sequences(spec["n"], **spec["shape"])
    out = {
        "n_sequences": spec["n"],
        "input_bytes": int(sum(x.nbytes for x in X)),
        "input_rss": _status_kb("VmRSS") * 1024 - rss_empty,
        "max_len": int(max(len(x) for x in X)),
    }
    method = getattr(clf, spec["method"])
    method(X[:32])  # first-call set-up (oneDNN primitives), not the measure
    _, m = _measured(lambda: method(X))
    return {**out, **m}


def child_annotate(spec):
    import torch

    torch.set_num_threads(1)
    from pipelines.ecg_arrhythmia import main

    argv = ["annotate", "--model", spec["model"], "--data-dir", spec["data_dir"]]
    argv += ["--records", spec["record"], "--out-dir", spec["out_dir"]]
    argv += ["--chunk-minutes", str(spec["chunk_minutes"])] + spec["extra"]
    status, m = _measured(lambda: main(argv))
    if status != 0:
        raise SystemExit(f"annotate failed with status {status}")
    summary = json.loads((Path(spec["out_dir"]) / f"{spec['record']}.pred.json").read_text())
    return {"n_beats": summary["n_beats"], **m}


def run_child(spec):
    """One measurement in a fresh interpreter; its result dict."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", "--child", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"measurement {spec['kind']} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- in the parent process -------------------------------------------------------------


def fit_sequence_model(cfg, path):
    """A small LSTMClassifier fitted on 512 ragged sequences, saved to ``path``."""
    import torch
    from sklearn.exceptions import ConvergenceWarning

    import sklstm
    from sklstm import LSTMClassifier

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    shape = {k: cfg[k] for k in ("min_len", "max_len", "features")}
    X = ragged_sequences(512, seed=1, **shape)
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    clf = LSTMClassifier(hidden_size=cfg["hidden"], max_iter=2, frontend=None, random_state=0)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
    finally:
        torch.set_num_threads(threads)
    sklstm.save(clf, path)
    return shape


def bench_predict(cfg, workdir):
    model = workdir / "sequences.model"
    shape = fit_sequence_model(cfg, model)
    rows = {}
    for method in cfg["methods"]:
        for n in cfg["sequences"]:
            spec = dict(kind="predict", model=str(model), n=n, method=method, shape=shape)
            row = run_child(spec)
            # What the network would hold if every sequence went through at once:
            # the padded input and the hidden state of every step.
            row["all_at_once_bytes"] = n * row["max_len"] * (shape["features"] + cfg["hidden"]) * 4
            rows[f"{method} {n}"] = row
            print(f"  {method} over {n} sequences: {_row_text(row)}", flush=True)
    return rows


def _mitdb():
    return Path(os.environ.get("SKLSTM_DATA", ROOT.parent / "shared" / "data")) / "mitdb"


def concatenate_records(mitdb, names, directory, name):
    """Write one long record: the MLII lead of the named records, end to end.

    Their beat annotations (``.atr``, shifted) come along, so that the long
    record can be evaluated as well as annotated. All share MIT-BIH's gain,
    baseline and rate (checked), so the digital samples join as they are.
    Returns the number of samples.
    """
    import wfdb

    from sklstm.ecg import AAMI_SYMBOLS

    parts, samples, symbols, offset = [], [], [], 0
    for record in names:
        rec = wfdb.rdrecord(str(mitdb / record), channel_names=["MLII"], physical=False)
        if (rec.adc_gain[0], rec.baseline[0], rec.fs) != (200.0, 1024, 360):
            raise ValueError(f"record {record} has another gain, baseline or rate")
        ann = wfdb.rdann(str(mitdb / record), "atr")
        parts.append(rec.d_signal[:, 0].astype(np.int16))
        beat = np.isin(ann.symbol, list(AAMI_SYMBOLS))
        samples.append(ann.sample[beat] + offset)
        symbols += [s for s, b in zip(ann.symbol, beat) if b]
        offset += rec.sig_len
    wfdb.wrsamp(
        name,
        fs=360,
        units=["mV"],
        sig_name=["MLII"],
        d_signal=np.concatenate(parts)[:, None],
        fmt=["212"],
        adc_gain=[200.0],
        baseline=[1024],
        write_dir=str(directory),
    )
    wfdb.wrann(name, "atr", np.concatenate(samples), symbol=symbols, write_dir=str(directory))
    return offset


def long_record(mitdb, hours, directory, name):
    """One record of at least ``hours`` from the records of ``mitdb``, in order, repeated.

    Returns the number of samples.
    """
    import wfdb

    from sklstm.ecg import list_records

    available = list_records(mitdb)
    target, total, names = int(hours * 3600 * 360), 0, []
    while total < target:
        names.append(available[len(names) % len(available)])
        total += wfdb.rdheader(str(mitdb / names[-1])).sig_len
    return concatenate_records(mitdb, names, directory, name)


def train_ecg_model(mitdb, path, quick):
    argv = [sys.executable, "-m", "pipelines.ecg_arrhythmia", "train", "--data-dir", str(mitdb)]
    argv += ["--records", "101", "106", "--model", str(path), "--threads", "1"]
    argv += ["--max-iter", "1", "--hidden-size", "8"] if quick else ["--max-iter", "3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(argv, cwd=ROOT, env=env, check=True, capture_output=True)


def bench_annotate(cfg, workdir, model, quick):
    mitdb = _mitdb()
    if not (mitdb / "208.hea").is_file():
        print(f"  skipped: MIT-BIH records not found in {mitdb}")
        return {"skipped": f"MIT-BIH records not found in {mitdb}"}
    if model is None:
        model = workdir / "ecg.model"
        train_ecg_model(mitdb, model, quick)
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    start = time.perf_counter()
    n_long = long_record(mitdb, cfg["hours"], data, "long")
    print(f"  built a {n_long / 360 / 3600:.1f}-hour record ({n_long} samples) "
          f"in {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    chunk = cfg["chunk_minutes"]
    runs = [("30-min record 208", mitdb, "208", 650_000, chunk, [])]
    if cfg["detect"]:
        runs.append(("30-min record 208, --detect", mitdb, "208", 650_000, chunk, ["--detect"]))
    runs.append(("long record", data, "long", n_long, chunk, []))
    if cfg["detect"]:
        runs.append(("long record, --detect", data, "long", n_long, chunk, ["--detect"]))
    if cfg["whole_record"]:
        runs.append(("long record read at once (--chunk-minutes 0)", data, "long", n_long, 0, []))
    rows = {}
    for i, (label, directory, record, n, chunk_minutes, extra) in enumerate(runs):
        spec = dict(
            kind="annotate",
            model=str(model),
            data_dir=str(directory),
            record=record,
            out_dir=str(workdir / f"out{i}"),
            chunk_minutes=chunk_minutes,
            extra=extra,
        )
        row = run_child(spec)
        row.update(
            n_samples=n,
            hours=n / 360 / 3600,
            chunk_minutes=chunk_minutes,
            signal_float64_bytes=8 * n,
            signal_file_bytes=(directory / f"{record}.dat").stat().st_size,
        )
        rows[label] = row
        print(f"  annotate {label}: {_row_text(row)}", flush=True)
    return rows


def _row_text(row):
    return (
        f"peak RSS {row['peak_rss'] / MB:.0f} MB, working {row['working'] / MB:.0f} MB"
        + (" (whole-process peak)" if row["peak_is_whole_process"] else "")
        + f", {row['seconds']:.1f} s"
    )


def format_table(results):
    rows = [("measure", "input", "peak RSS", "working", "time")]
    for label, r in results.get("a_predict", {}).items():
        at_once = r["all_at_once_bytes"] / MB
        rows.append(
            (
                label + " sequences",
                f"{r['input_bytes'] / MB:.0f} MB (all at once: {at_once:,.0f} MB)",
                f"{r['peak_rss'] / MB:.0f} MB",
                f"{r['working'] / MB:.0f} MB",
                f"{r['seconds']:.1f} s",
            )
        )
    for label, r in results.get("b_annotate", {}).items():
        if label == "skipped":
            continue
        rows.append(
            (
                f"annotate {label}",
                f"{r['hours']:.1f} h, {r['n_beats']} beats, "
                f"signal {r['signal_float64_bytes'] / MB:.0f} MB as float64",
                f"{r['peak_rss'] / MB:.0f} MB",
                f"{r['working'] / MB:.0f} MB",
                f"{r['seconds']:.1f} s",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(r, widths)) for r in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke test)")
    parser.add_argument("--only", default="ab", help="measures to run, e.g. 'a'")
    parser.add_argument("--json", type=Path, help="also write the results to FILE (atomically)")
    parser.add_argument("--model", type=Path, help="ECG app model (default: train a small one)")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        kinds = {"predict": child_predict, "annotate": child_annotate}
        print(json.dumps(kinds[spec["kind"]](spec)))
        return None
    cfg = QUICK if args.quick else FULL
    results = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
            "threads": 1,
            "note": "shared machine: other jobs ran at the same time",
        },
        "config": cfg,
    }
    with tempfile.TemporaryDirectory(prefix="sklstm-memory-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if "a" in args.only:
            print("a: predict over many sequences", flush=True)
            results["a_predict"] = bench_predict(cfg, workdir)
        if "b" in args.only:
            print("b: annotate a long ECG record", flush=True)
            results["b_annotate"] = bench_annotate(cfg, workdir, args.model, args.quick)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    print(format_table(results))
    if args.json:
        from pipelines._cli import write_json

        write_json(args.json, results)
        print(f"wrote {args.json}")
    return results


if __name__ == "__main__":
    main()
