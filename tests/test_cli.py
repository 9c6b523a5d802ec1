"""The applications' shared helpers: atomic outputs, model files, Ctrl-C."""

import os
import signal
import subprocess
import sys

import pytest
from _data import ROOT

from pipelines._cli import (
    INTERRUPTED,
    TrainingInterrupted,
    atomic_path,
    interruptible,
    load_model,
    save_model,
    write_json,
)
from pipelines._startup import BROKEN_PIPE, quiet_ctrl_c_while_starting, run_program


def _umask():
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_atomic_outputs_replace_the_old_file_whole_and_are_not_private(tmp_path):
    path = tmp_path / "out" / "report.json"
    write_json(path, {"a": 1})
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    previous = os.umask(0o077)  # the umask of the moment applies
    try:
        write_json(path.with_name("private.json"), {})
    finally:
        os.umask(previous)
    assert path.with_name("private.json").stat().st_mode & 0o777 == 0o600
    path.with_name("private.json").unlink()
    with pytest.raises(RuntimeError, match="killed"):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == '{\n  "a": 1\n}\n'  # the old file, whole
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temporary left


def test_a_model_of_another_kind_is_refused_by_name(tmp_path):
    path = tmp_path / "m.sklstm"
    save_model({"pipeline": None, "sample_rate": 8000}, path)
    assert load_model(path, kind="audio", keys=["pipeline"])["sample_rate"] == 8000
    with pytest.raises(SystemExit, match=r"m.sklstm is not a heartbeat model"):
        load_model(path, kind="heartbeat", keys=["model", "lead"])
    with pytest.raises(SystemExit, match=r"nothing.sklstm does not exist"):
        load_model(tmp_path / "nothing.sklstm", kind="audio", keys=[])
    (tmp_path / "junk.sklstm").write_bytes(b"not a zip")
    with pytest.raises(SystemExit, match=r"cannot load model .*junk.sklstm"):
        load_model(tmp_path / "junk.sklstm", kind="audio", keys=[])


def test_interruptible_raises_its_exception_at_ctrl_c_and_restores_the_handler():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted):
        with interruptible(TrainingInterrupted) as state:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # Python runs the handler between bytecodes
                pass
    assert state["interrupted"] is True
    assert signal.getsignal(signal.SIGINT) is before
    with interruptible() as state:
        pass
    assert state["interrupted"] is False
    assert INTERRUPTED == 130


def test_interruptible_off_the_main_thread_runs_the_block_as_it_is():
    import threading

    seen = []

    def run():
        try:
            with interruptible() as state:
                raise RuntimeError("boom")
        except RuntimeError as exc:
            # Not chained onto "signal only works in main thread".
            seen.append((str(exc), exc.__context__, state["interrupted"]))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [("boom", None, False)]


# -- Ctrl-C from the first moment of a command to its last ----------------------------

# Runs an application as `python -m` does, pressing Ctrl-C (a real SIGINT) when
# the application's imports reach scikit-learn: in the middle of start-up.
CTRL_C_WHILE_IMPORTING = """
import os, runpy, signal, sys

class CtrlCOnImport:
    def find_spec(self, name, path=None, target=None):
        if name == "sklearn":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlCOnImport())
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "module, argv",
    [
        ("pipelines.keyword_spotting", ["predict", "--model", "m", "x.wav"]),
        ("pipelines.ecg_arrhythmia", ["annotate", "--model", "m", "--data-dir", "."]),
        ("pipelines.forecasting", ["--dataset", "electricity"]),
        ("pipelines.demo", []),
    ],
)
def test_ctrl_c_while_an_application_starts_is_one_line_and_status_130(module, argv):
    result = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_IMPORTING, module, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == INTERRUPTED, result.stderr
    assert result.stderr == "\ninterrupted (Ctrl-C) while starting: stopped.\n"
    assert result.stdout == ""


@pytest.fixture
def sigint_handler_restored():
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


def test_run_program_turns_an_escaped_ctrl_c_into_one_line_and_status_130(
    sigint_handler_restored, capsys
):
    def main():
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("not reached: Ctrl-C raises KeyboardInterrupt in main")

    with pytest.raises(SystemExit) as stopped:
        run_program(main)
    assert stopped.value.code == INTERRUPTED
    assert capsys.readouterr().err == "\ninterrupted (Ctrl-C): stopped.\n"


def test_run_program_exits_with_mains_status_and_then_ignores_ctrl_c(sigint_handler_restored):
    with pytest.raises(SystemExit) as stopped:
        run_program(lambda: 3)
    assert stopped.value.code == 3
    # The outputs are complete: a late Ctrl-C must not turn them into a traceback.
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    os.kill(os.getpid(), signal.SIGINT)  # ignored


def test_quiet_ctrl_c_while_starting_acts_only_for_the_program(sigint_handler_restored):
    before = signal.getsignal(signal.SIGINT)
    quiet_ctrl_c_while_starting("pipelines.keyword_spotting")  # imported, e.g. by a test
    assert signal.getsignal(signal.SIGINT) is before
    quiet_ctrl_c_while_starting("__main__")
    assert signal.getsignal(signal.SIGINT) is not before


@pytest.mark.parametrize("flush", [True, False])
def test_output_into_a_reader_that_went_away_ends_quietly(flush):
    """`... | head`: the reader is gone before the program writes (a pipe closed at once)."""
    program = (
        "from pipelines._startup import run_program\n"
        "def main():\n"
        "    for k in range(100000):\n"
        f"        print('beat', k, flush={flush})\n"
        "    return 0\n"
        "run_program(main)\n"
    )
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(
            [sys.executable, "-c", program],
            cwd=ROOT,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert result.returncode == BROKEN_PIPE == 141
    assert result.stderr == ""


def test_a_background_job_started_with_ctrl_c_ignored_keeps_ignoring_it():
    program = (
        "import os, signal\n"
        "from pipelines._startup import quiet_ctrl_c_while_starting, run_program\n"
        "quiet_ctrl_c_while_starting('__main__')\n"
        "def main():\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    print('finished')\n"
        "    return 0\n"
        "run_program(main)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        # What `command &` in a script gives its job.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "finished\n", "")
