"""
Grid search with grouped cross-validation
=========================================

Sequences recorded from the same source share its quirks. Here every source
adds its own offset to its sequences; splitting by source with
:class:`~sklearn.model_selection.GroupKFold` measures how the model does on
sources it has never seen, which is what deployment looks like.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, SequenceScaler

rng = np.random.RandomState(0)
groups = np.repeat(np.arange(6), 30)
offsets = rng.randn(6) * 3
y = np.arange(len(groups)) % 2
X = []
for g, label in zip(groups, y):
    steps = np.arange(rng.randint(8, 25))[:, None]
    trend = (0.3 if label else -0.3) * steps  # class 1 rises, class 0 falls
    X.append(trend + offsets[g] + rng.randn(len(steps), 1))

pipe = make_pipeline(
    SequenceScaler(),
    LSTMClassifier(learning_rate_init=0.02, max_iter=20, random_state=0),
)
grid = {"lstmclassifier__pooling": ["last", "mean"]}
search = GridSearchCV(pipe, grid, cv=GroupKFold(n_splits=3)).fit(X, y, groups=groups)
print("best:", search.best_params_, f"accuracy on unseen sources {search.best_score_:.3f}")

# %%
labels = [f"pooling={p['lstmclassifier__pooling']}" for p in search.cv_results_["params"]]
plt.barh(labels, search.cv_results_["mean_test_score"], xerr=search.cv_results_["std_test_score"])
plt.xlabel("accuracy on held-out sources")
plt.tight_layout()
plt.show()
