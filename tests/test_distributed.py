"""Past one machine: grid search on a Dask cluster, data-parallel training under torchrun."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
HERE = Path(__file__).parent


def _torch_threads():
    import torch

    return torch.get_num_threads()


def test_grid_search_on_a_dask_cluster_equals_the_local_search():
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    rng = np.random.RandomState(0)
    X = rng.randn(60, 8, 3).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    grid = {"hidden_size": [4, 8], "learning_rate_init": [1e-3, 1e-2]}
    local = GridSearchCV(LSTMClassifier(max_iter=3, random_state=0), grid, cv=3).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # Each worker process trains with as many torch threads as it has cores: one.
        assert set(client.run(_torch_threads).values()) == {1}
        with joblib.parallel_backend("dask"):
            remote = GridSearchCV(LSTMClassifier(max_iter=3, random_state=0), grid, cv=3)
            remote.fit(X, y)
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))


def test_data_parallel_training_equals_single_process_training(tmp_path):
    """Two CPU processes (gloo, loopback) split every global batch of 16 sequences."""
    sys.path.insert(0, str(HERE))
    try:
        from _ddp_worker import fit, problem
    finally:
        sys.path.remove(str(HERE))
    single = fit()
    out = tmp_path / "ddp.npz"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(HERE / "_ddp_worker.py"),
            str(out),
        ],
        env=env,
        timeout=600,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = np.load(out)
    X, _ = problem()
    np.testing.assert_allclose(result["proba"], single.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(result["loss"], single.loss_curve_, rtol=1e-6)
