"""The main demo: both applications trained and evaluated on data they never saw.

- Keyword spotting on the Free Spoken Digit Dataset: train on takes 10-49 of
  every speaker and digit, evaluate on takes 5-9.
- Heartbeat classification on MIT-BIH DS1: train on 16 records, evaluate on 6
  other patients (the inter-patient way: no patient on both sides).

Both run through the applications' command lines, as a user would, with the
data from ``$SKLSTM_DATA`` linked, not copied, into a temporary folder. ``make demo``
sets ``SKLSTM_DATA`` to ``../shared/data`` unless it is set; run directly, the demo
reads :func:`~sklstm.datasets.get_data_home` (``~/sklstm_data`` without the variable).
"""

from ._startup import quiet_ctrl_c_while_starting, run_program

quiet_ctrl_c_while_starting(__name__)  # before the slow imports below

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sklstm.datasets import get_data_home
from sklstm.ecg import DS1

ECG_HELD_OUT = ("106", "209", "215", "220", "223", "230")


def run(module, *args):
    """Run an application command, streaming its output; stop the demo if it fails."""
    command = [sys.executable, "-m", f"pipelines.{module}", *map(str, args)]
    print(f"\n$ python -m pipelines.{module} {' '.join(map(str, args))}", flush=True)
    if subprocess.run(command).returncode != 0:
        raise SystemExit(f"demo: pipelines.{module} {args[0]} failed")


def link_fsdd_takes(recordings, folder, takes):
    folder.mkdir(parents=True)
    for clip in recordings.glob("*.wav"):
        if int(clip.stem.rsplit("_", 1)[1]) in takes:
            (folder / clip.name).symlink_to(clip.resolve())
    return folder


def keyword_spotting(work, data):
    recordings = data / "fsdd" / "recordings"
    if not recordings.is_dir():
        print(f"skipping keyword spotting: no FSDD clips in {recordings}")
        return
    train = link_fsdd_takes(recordings, work / "fsdd_train", range(10, 50))
    held_out = link_fsdd_takes(recordings, work / "fsdd_held_out", range(5, 10))
    model = work / "kws.sklstm"
    # The application's default of one torch thread: a small LSTM's batches gain
    # nothing from a second one, and lose much when another process shares the CPU.
    run("keyword_spotting", "train", "--data", train, "--model", model)
    run("keyword_spotting", "evaluate", "--model", model, "--data", held_out)


def ecg_arrhythmia(work, data):
    mitdb = data / "mitdb"
    if not (mitdb / "RECORDS").is_file():
        print(f"skipping ECG: no MIT-BIH records in {mitdb}")
        return
    train = [r for r in DS1 if r not in ECG_HELD_OUT]
    model = work / "ecg.sklstm"
    run(
        "ecg_arrhythmia",
        "train",
        "--data-dir",
        mitdb,
        "--records",
        *train,
        "--model",
        model,
        "--threads",
        2,
    )
    run(
        "ecg_arrhythmia",
        "evaluate",
        "--model",
        model,
        "--data-dir",
        mitdb,
        "--records",
        *ECG_HELD_OUT,
    )


def main():
    data = get_data_home()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sklstm-demo-") as tmp:
        keyword_spotting(Path(tmp), data)
        ecg_arrhythmia(Path(tmp), data)
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    run_program(main)
