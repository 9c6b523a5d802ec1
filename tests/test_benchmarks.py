"""The benchmark script keeps working (at tiny sizes: benchmarks are not timed tests)."""

import json

import numpy as np
import pytest

from benchmarks.run import main

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_benchmark_script_runs_every_measure_at_tiny_sizes(tmp_path, capsys):
    out = tmp_path / "results.json"
    main(["--quick", "--repeats", "1", "--json", str(out)])
    results = json.loads(out.read_text())
    assert results["machine"]["sgemm_gflops"] > 0
    ratios = [row["ratio_to_plain"] for row in results["a_fit"].values()]
    assert len(ratios) == 3 and all(r > 0 for r in ratios)
    assert results["b_backends"]["explicit_over_fused_training"] > 0
    assert results["c_bucketing"]["lengths"]["min"] >= 15
    assert results["d_latency"]["fused"]["p99_ms"] >= results["d_latency"]["fused"]["p50_ms"]
    assert results["e_grid_search"]["speedup"] > 0
    assert set(results["f_features"]) == {"mfcc", "ecg"}
    assert results["g_flops"]["fused_training_gflops"] > 0
    assert set(results["h_streaming"]) == {"None", "conv"}
    assert all(
        h["stream_rtf"] > 0 and h["window_rtf"] > 0 and h["side_by_side_rtf_per_stream"] > 0
        for h in results["h_streaming"].values()
    )
    table = capsys.readouterr().out
    assert "bucketing speedup per epoch" in table and "GridSearchCV" in table
    assert "stream 100-ms chunks" in table


def test_memory_script_measures_predict_in_fresh_processes(tmp_path, capsys):
    from benchmarks.memory import main as memory_main

    out = tmp_path / "memory.json"
    results = memory_main(["--quick", "--only", "a", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    small, large = (results["a_predict"][f"predict {n}"] for n in (1_000, 5_000))
    assert large["input_bytes"] > 4 * small["input_bytes"] > 0
    for row in (small, large):
        assert row["peak_rss"] >= row["rss_before"] > 0 and row["seconds"] > 0
    assert "predict 5000 sequences" in capsys.readouterr().out


def _ucr_missing():
    from benchmarks.tsc import data_dir

    return not (data_dir() / "ucr").is_dir()


@pytest.mark.skipif(_ucr_missing(), reason="the shared UCR sets are not in $SKLSTM_DATA")
def test_tsc_benchmark_scores_every_contender_on_every_shared_set(tmp_path, capsys):
    from benchmarks.tsc import CONTENDERS, SETS
    from benchmarks.tsc import main as tsc_main

    out = tmp_path / "tsc.json"
    results = tsc_main(["--quick", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(results))
    assert set(results["sets"]) == set(SETS)
    tasks = {name: row["task"] for name, row in results["sets"].items()}
    assert tasks["Trace"] == "classification" and tasks["Covid3Month"] == "regression"
    for row in results["sets"].values():
        ran = set(row["contenders"])
        assert {"default", "tuned", "ridge", "plain"} <= ran <= set(CONTENDERS)
        for scores in row["contenders"].values():
            assert scores["fit_s"] > 0 and scores["predict_s"] >= 0
            if row["task"] == "classification":
                assert 0 <= scores["score"] <= 1
    assert set(results["summary"]) == {"classification", "regression"}
    table = capsys.readouterr().out
    assert "mean class" in table and "fit seconds per set" in table


def test_tsc_benchmark_reads_the_sets_bundled_with_aeon(tmp_path):
    pytest.importorskip("aeon")
    from benchmarks.tsc import AEON_SETS, load_set
    from benchmarks.tsc import main as tsc_main

    X_train, y_train, X_test, y_test, classification = load_set("GunPoint")
    assert classification
    assert X_train.shape == (50, 150, 1) and X_test.shape == (150, 150, 1)
    assert sorted(set(y_train)) == sorted(set(y_test)) == ["1", "2"]
    assert load_set("BasicMotions")[0].shape == (40, 100, 6)  # channels last
    out = tmp_path / "tsc.json"
    argv = ["--quick", "--sets", "aeon", "--only", "default,ridge", "--json", str(out)]
    results = tsc_main(argv)
    assert list(results["sets"]) == list(AEON_SETS)
    assert all(row["task"] == "classification" for row in results["sets"].values())


def test_tsc_benchmark_reads_the_ragged_sets_and_pads_them_for_fixed_length_contenders(tmp_path):
    pytest.importorskip("aeon")
    from benchmarks.tsc import RAGGED_SETS, _EqualLength, load_set, make_contender
    from benchmarks.tsc import main as tsc_main

    X_train, y_train, X_test, _, classification = load_set("PickupGestureWiimoteZ")
    assert classification and isinstance(X_train, list) and len(X_train) == len(y_train) == 50
    lengths = {len(x) for x in X_train + X_test}
    assert len(lengths) > 10 and all(x.shape[1] == 1 for x in X_train)
    assert load_set("JapaneseVowels")[0][0].shape[1] == 12  # channels last

    class Recorder:
        def fit(self, X, y):
            self.seen = X
            return self

        def predict(self, X):
            self.seen = X
            return np.zeros(len(X))

    rec = Recorder()
    model = _EqualLength(rec).fit(
        [np.array([[1.0], [2.0]]), np.array([[3.0], [4.0], [5.0]])], [0, 1]
    )
    np.testing.assert_array_equal(rec.seen[:, :, 0], [[1, 2, 2], [3, 4, 5]])  # last value
    model.predict([np.arange(5.0)[:, None], np.array([[7.0]])])
    np.testing.assert_array_equal(rec.seen[:, :, 0], [[0, 1, 2], [7, 7, 7]])  # cut, padded
    # Only the contenders that need one length are padded; sklstm reads the lists.
    assert isinstance(make_contender("ridge", True, 0, True), _EqualLength)
    assert isinstance(make_contender("minirocket", True, 0, True), _EqualLength)
    assert not isinstance(make_contender("default", True, 0, True), _EqualLength)
    out = tmp_path / "tsc.json"
    argv = ["--quick", "--sets", "ragged", "--only", "default,ridge", "--json", str(out)]
    results = tsc_main(argv)
    assert list(results["sets"]) == list(RAGGED_SETS)
    vowels = results["sets"]["JapaneseVowels"]
    assert (vowels["channels"], vowels["min_steps"], vowels["steps"]) == (12, 10, 21)
    for row in results["sets"].values():
        assert set(row["contenders"]) == {"default", "ridge"}


@pytest.mark.parametrize("causal", [False, True])
def test_keyword_spotting_noise_script_runs_at_tiny_sizes(tmp_path, causal):
    import sklstm
    from benchmarks.kws_noise import DATA
    from benchmarks.kws_noise import main as kws_noise_main
    from sklstm.audio import CausalKeywordSpotter

    if not (DATA / "fsdd").is_dir() or not (DATA / "noise").is_dir():
        pytest.skip("FSDD or the noise recordings are not under $SKLSTM_DATA")
    out = tmp_path / "kws_noise.json"
    options = ["--causal", "--save", str(tmp_path / "models")] if causal else []
    results = kws_noise_main(["--quick", "--json", str(out), *options])
    assert json.loads(out.read_text()) == results and set(results) == {"default", "noise"}
    for row in results.values():
        assert 0 <= row["accuracy_real_10"] <= 1 and 0 <= row["spot_white_10"]["f1"] <= 1
    if causal:
        for name in ("default", "noise"):
            saved = sklstm.load(tmp_path / "models" / f"{name}.sklstm")
            assert isinstance(saved, CausalKeywordSpotter)
    else:
        assert not (tmp_path / "models").exists()


def _fsdd_missing():
    from benchmarks.kws_noise import DATA

    return not (DATA / "fsdd" / "recordings").is_dir() or not (DATA / "noise").is_dir()


@pytest.mark.skipif(_fsdd_missing(), reason="FSDD or the noise recordings are not in $SKLSTM_DATA")
@pytest.mark.parametrize("kind", ["KeywordSpotter", "CausalKeywordSpotter"])
def test_kws_stream_benchmark_compares_the_stream_with_the_offline_spot(tmp_path, capsys, kind):
    import sklstm
    from benchmarks.kws_noise import DATA
    from benchmarks.kws_stream import main as stream_main
    from sklstm import audio

    paths = sorted((DATA / "fsdd" / "recordings").glob("[01]_*_1[0-2].wav"))
    labels = [p.name[0] for p in paths]
    if kind == "KeywordSpotter":
        settings = dict(max_iter=2, hidden_size=8, n_copies=1)
    else:  # trained enough to fire: equal streams of no event would prove nothing
        settings = dict(max_iter=30, hidden_size=64, num_layers=1, n_streams=60, threshold=0.5)
    spotter = getattr(audio, kind)(**settings).fit(paths, labels)
    model, out = tmp_path / "kws.sklstm", tmp_path / "stream.json"
    sklstm.save(spotter, model)
    stream_main(["--model", str(model), "--recordings", "1", "--json", str(out)])
    results = json.loads(out.read_text())
    assert set(results) == {"silence", "white 10 dB", "real 10 dB"}
    for row in results.values():
        assert row["stream"]["recordings_with_the_offline_events"] == "1/1"
        assert row["stream"]["real_time_factor"] > 0
    if kind == "CausalKeywordSpotter":
        assert results["silence"]["offline_f1"] > 0  # it found words, and streamed them
    assert "silence" in capsys.readouterr().out


@pytest.mark.skipif(_fsdd_missing(), reason="FSDD or the noise recordings are not in $SKLSTM_DATA")
def test_kws_int8_benchmark_runs_the_float_and_int8_graphs_as_predict_decides(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    import sklstm
    from benchmarks.kws_int8 import main as int8_main
    from benchmarks.kws_noise import DATA
    from sklstm.audio import CausalKeywordSpotter, KeywordSpotter

    paths = sorted((DATA / "fsdd" / "recordings").glob("[01]_*_1[0-2].wav"))
    labels = [p.name[0] for p in paths]
    spotter = CausalKeywordSpotter(
        hidden_size=16, num_layers=1, max_iter=2, n_streams=20, random_state=0
    ).fit(paths, labels)
    model, out = tmp_path / "causal.sklstm", tmp_path / "int8.json"
    sklstm.save(spotter, model)
    int8_main(["--model", str(model), "--takes", "10-11", "--json", str(out)])
    results = json.loads(out.read_text())
    clips = sorted((DATA / "fsdd" / "recordings").glob("*_1[01].wav"))
    labels_of_takes = [p.name[0] for p in clips]
    assert results["n_clips"] == 120
    # The float32 graph names each clip as predict does: the same network, step by step.
    assert results["float32"]["max_probability_difference"] < 1e-5
    assert results["float32"]["labels"] == results["sklstm_labels"]
    assert results["float32"]["accuracy"] == results["sklstm_accuracy"]
    assert results["int8"]["bytes"] < results["float32"]["bytes"]
    int8_right = np.equal(results["int8"]["labels"], labels_of_takes).mean()
    assert results["int8"]["accuracy"] == pytest.approx(int8_right)
    assert "times smaller" in capsys.readouterr().out
    window = KeywordSpotter(max_iter=1, hidden_size=8, n_copies=1).fit(paths[:20], labels[:20])
    sklstm.save(window, model)
    with pytest.raises(SystemExit):
        int8_main(["--model", str(model)])
    assert "holds a KeywordSpotter" in capsys.readouterr().err
