"""The applications' shared helpers: atomic outputs, model files, Ctrl-C."""

import os
import signal

import pytest

from pipelines._cli import (
    INTERRUPTED,
    TrainingInterrupted,
    atomic_path,
    interruptible,
    load_model,
    save_model,
    write_json,
)


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
