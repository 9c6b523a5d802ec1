"""
Exporting a classifier to ONNX
==============================

A fitted estimator exports its network with dynamic batch size and sequence
length; onnxruntime then predicts without PyTorch. Sequences of different
lengths go in as one padded batch with their lengths.
"""

import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime

from sklstm import LSTMClassifier

rng = np.random.RandomState(0)
X = [rng.randn(rng.randint(4, 30), 3).astype(np.float32) for _ in range(200)]
y = np.array([int(x[:, 0].mean() > 0) for x in X])
clf = LSTMClassifier(
    hidden_size=16,
    bidirectional=True,
    learning_rate="constant",
    tol=1e-3,
    n_iter_no_change=3,
    learning_rate_init=0.01,
    random_state=0,
).fit(X, y)

path = clf.to_onnx(os.path.join(tempfile.mkdtemp(), "classifier.onnx"))
session = onnxruntime.InferenceSession(str(path))

lengths = np.array([len(x) for x in X], dtype=np.int64)
batch = np.zeros((len(X), lengths.max(), 3), dtype=np.float32)
for i, x in enumerate(X):
    batch[i, : len(x)] = x
proba, label = session.run(None, {"x": batch, "lengths": lengths})
difference = np.abs(proba - clf.predict_proba(X)).max()
print(f"largest difference from predict_proba: {difference:.2e}")

# %%
plt.scatter(clf.predict_proba(X)[:, 1], proba[:, 1], s=8)
plt.xlabel("predict_proba (PyTorch)")
plt.ylabel("onnxruntime")
plt.show()
