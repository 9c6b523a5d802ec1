"""Trained by tests/test_distributed.py under torchrun: one fit, rank 0 saves the outcome."""

import sys
import warnings

import numpy as np
import torch.distributed as dist

from sklstm import LSTMClassifier


def problem():
    rng = np.random.RandomState(0)
    X = [rng.randn(rng.randint(5, 20), 3).astype(np.float32) for _ in range(64)]
    return X, np.array([int(x[:, 0].sum() > 0) for x in X])


def fit():
    X, y = problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 4 epochs do not converge, on purpose
        # Without input noise, which each process draws for its own share of a batch.
        return LSTMClassifier(
            hidden_size=8,
            max_iter=4,
            batch_size=16,
            bidirectional=True,
            input_noise=0.0,
            random_state=0,
        ).fit(X, y)


if __name__ == "__main__":
    clf = fit()
    if dist.get_rank() == 0:
        X, _ = problem()
        np.savez(sys.argv[1], proba=clf.predict_proba(X), loss=clf.loss_curve_)
