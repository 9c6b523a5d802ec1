"""
Classifying sequences of different lengths
==========================================

A ragged list of sequences goes straight into :class:`~sklstm.LSTMClassifier`:
no padding by hand. Here each sequence is a noisy walk, and the label says
whether it ends above where it started — the model has to read to the end of
each sequence, whatever its length.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from sklstm import LSTMClassifier
from sklstm.plotting import plot_training_history

rng = np.random.RandomState(0)
X = [np.cumsum(rng.randn(rng.randint(5, 60), 1), axis=0) for _ in range(300)]
y = np.array(["up" if x[-1, 0] > x[0, 0] else "down" for x in X])
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

clf = LSTMClassifier(
    hidden_size=16, learning_rate_init=0.01, early_stopping=True, max_iter=40, random_state=0
)
clf.fit(X_train, y_train)
print(f"test accuracy: {clf.score(X_test, y_test):.3f} after {clf.n_iter_} epochs")

# %%
# Accuracy by sequence length: long sequences are no harder once the model
# has learned to integrate the steps.
lengths = np.array([len(x) for x in X_test])
correct = clf.predict(X_test) == y_test
bins = [5, 20, 40, 60]
for lo, hi in zip(bins[:-1], bins[1:]):
    mask = (lengths >= lo) & (lengths < hi)
    accuracy = correct[mask].mean()
    print(f"lengths {lo:2d}-{hi - 1:2d}: accuracy {accuracy:.3f} ({mask.sum()} sequences)")

plot_training_history(clf)
plt.show()
