"""Data-only model files: exact round trips, and files that must not load."""

import json
import os
import pickle
import zipfile

import numpy as np
import pytest
import safetensors.numpy
import torch
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.callbacks import LRScheduler

from sklstm import LSTMClassifier, LSTMRegressor, PadTruncate, SequenceScaler, load, save
from sklstm.io import FORMAT_VERSION, ModelFileError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def ragged(n=40, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.randn(rng.randint(3, 15), 2) for _ in range(n)]
    return X, np.array(["hi" if x[:, 0].sum() > 0 else "lo" for x in X])


@pytest.fixture(scope="module")
def pipeline():
    X, y = ragged()
    model = make_pipeline(
        SequenceScaler(),
        LSTMClassifier(hidden_size=8, max_iter=3, bidirectional=True, random_state=0),
    )
    return model.fit(X, y), X


def test_pipeline_round_trip_gives_identical_predictions(pipeline, tmp_path):
    model, X = pipeline
    save(model, tmp_path / "model.sklstm")
    loaded = load(tmp_path / "model.sklstm")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    clf = loaded[-1]
    assert list(clf.classes_) == ["hi", "lo"] and clf.loss_curve_ == model[-1].loss_curve_
    assert clf.get_params() == model[-1].get_params()
    np.testing.assert_array_equal(loaded[0].mean_, model[0].mean_)


def test_regressor_lbfgs_and_containers_round_trip(tmp_path):
    rng = np.random.RandomState(0)
    X, Y = rng.randn(30, 5, 1), rng.randn(30, 2)
    reg = LSTMRegressor(hidden_size=4, solver="lbfgs", max_iter=3, random_state=0).fit(X, Y)
    pad = PadTruncate(length=4).fit(X)
    bundle = {"model": reg, "pad": pad, "threshold": 0.25, "labels": ("a", "b"), "nan": np.nan}
    save(bundle, tmp_path / "bundle.sklstm")
    loaded = load(tmp_path / "bundle.sklstm")
    np.testing.assert_array_equal(loaded["model"].predict(X), reg.predict(X))
    assert next(loaded["model"].module_.parameters()).dtype == torch.float64
    assert loaded["threshold"] == 0.25 and loaded["labels"] == ("a", "b")
    assert np.isnan(loaded["nan"]) and loaded["pad"].length_ == 4


def test_callbacks_are_not_saved_and_say_so(tmp_path):
    X, y = ragged(20)
    scheduler = LRScheduler(policy="StepLR", step_size=1)
    clf = LSTMClassifier(hidden_size=4, max_iter=1, callbacks=[scheduler], random_state=0)
    clf.fit(X, y)
    with pytest.warns(UserWarning, match="callbacks are training-time objects"):
        save(clf, tmp_path / "clf.sklstm")
    assert load(tmp_path / "clf.sklstm").callbacks is None


def test_unsavable_objects_are_named(tmp_path):
    with pytest.raises(
        TypeError, match=r"obj.params\['steps'\]\[0\]\[1\].params\['func'\]: .*ufunc"
    ):
        save(make_pipeline(FunctionTransformer(np.log1p)), tmp_path / "f.sklstm")
    assert not (tmp_path / "f.sklstm").exists()


def _write(path, manifest, arrays=None):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", json.dumps(manifest))
        archive.writestr("arrays.safetensors", safetensors.numpy.save(arrays or {}))


def _manifest(obj, version=FORMAT_VERSION):
    return {"format": "sklstm-model", "format_version": version, "object": obj}


def test_crafted_file_naming_a_dangerous_callable_is_refused(tmp_path):
    evil = {"__estimator__": "os.system", "params": {"__dict__": [["command", "touch pwned"]]}}
    _write(tmp_path / "evil.sklstm", _manifest(evil))
    with pytest.raises(ModelFileError, match="may only use classes from sklstm"):
        load(tmp_path / "evil.sklstm")
    assert not (tmp_path / "pwned").exists()


def test_crafted_file_naming_a_non_estimator_is_refused(tmp_path):
    for name in ("sklearn.utils.deprecated", "sklstm.io.save", "sklstm.nope.Missing"):
        _write(tmp_path / "x.sklstm", _manifest({"__estimator__": name}))
        with pytest.raises(ModelFileError, match="not an estimator|unknown class"):
            load(tmp_path / "x.sklstm")


def test_newer_format_version_fails_with_a_clear_message(tmp_path):
    _write(tmp_path / "new.sklstm", _manifest(None, version=FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="Upgrade sklstm"):
        load(tmp_path / "new.sklstm")


def test_pickles_and_other_files_are_not_model_files(tmp_path, pipeline):
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(pipeline[0]))
    with pytest.raises(ModelFileError, match="not an sklstm model file"):
        load(tmp_path / "model.pkl")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match="members missing"):
        load(tmp_path / "other.zip")
    _write(tmp_path / "wrong.sklstm", {"format": "something-else"})
    with pytest.raises(ModelFileError, match="not an sklstm model file"):
        load(tmp_path / "wrong.sklstm")
    with pytest.raises(FileNotFoundError, match="No model file"):
        load(tmp_path / "missing.sklstm")


def test_network_weights_that_do_not_fit_are_reported(tmp_path, pipeline):
    model, _ = pipeline
    save(model[-1], tmp_path / "clf.sklstm")
    with zipfile.ZipFile(tmp_path / "clf.sklstm") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        arrays = safetensors.numpy.load(archive.read("arrays.safetensors"))
    weights = max(arrays, key=lambda key: arrays[key].size)  # a weight matrix
    arrays[weights] = np.zeros(3, dtype=np.float32)
    _write(tmp_path / "broken.sklstm", manifest, arrays)
    with pytest.raises(ModelFileError, match="weights do not fit"):
        load(tmp_path / "broken.sklstm")


def test_loaded_model_predicts_without_an_optimizer_and_trains_on(tmp_path, pipeline):
    """Creating a process's first optimizer costs a second: loading to predict skips it."""
    model, X = pipeline
    save(model, tmp_path / "model.sklstm")
    loaded = load(tmp_path / "model.sklstm")
    clf = loaded[-1]
    assert not hasattr(clf.net_, "optimizer_")
    y = model.predict(X)
    clf.set_params(warm_start=True, max_iter=1)
    loaded.fit(X, y)
    assert clf.n_iter_ == model[-1].n_iter_ + 1 and hasattr(clf.net_, "optimizer_")


def test_saving_is_reproducible_and_the_umask_applies(tmp_path, pipeline):
    first, second = tmp_path / "a.sklstm", tmp_path / "b.sklstm"
    previous = os.umask(0o077)  # set after import: saving must still follow it
    try:
        save(pipeline, first)
    finally:
        os.umask(previous)
    save(pipeline, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:  # no time of writing in the file
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert first.stat().st_mode & 0o777 == 0o600
    assert second.stat().st_mode & 0o777 == 0o666 & ~previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sklstm", "b.sklstm"]


def test_scikit_learn_parameters_of_another_version_are_dropped_with_a_warning(tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, y = np.random.RandomState(0).randn(40, 3), np.arange(40) % 3
    model = LogisticRegression().fit(X, y)
    path = tmp_path / "lr.sklstm"
    save(model, path)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        arrays = safetensors.numpy.load(archive.read("arrays.safetensors"))
    # As scikit-learn 1.7 wrote it: a parameter that later releases removed.
    manifest["object"]["params"]["__dict__"].append(["multi_class", "auto"])
    _write(path, manifest, arrays)
    with pytest.warns(UserWarning, match=r"LogisticRegression .* no parameter\(s\) multi_class"):
        loaded = load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # sklstm's own classes stay strict: an unknown parameter is a file of a newer sklstm.
    scaler = {"__estimator__": "sklstm.preprocessing.SequenceScaler",
              "params": {"__dict__": [["warp", 2]]}}  # fmt: skip
    _write(path, _manifest(scaler))
    with pytest.raises(ModelFileError, match="cannot rebuild SequenceScaler"):
        load(path)
