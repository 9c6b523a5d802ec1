"""The main demo: sequence classification end to end with scikit-learn tools.

Reads scikit-learn's handwritten digits as sequences (each 8x8 image is 8 time
steps of 8 pixels), tunes an LSTM in a pipeline with GridSearchCV and reports
held-out accuracy.
"""

import time

from sklearn.datasets import load_digits
from sklearn.metrics import classification_report
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, SequenceScaler


def digits_as_sequences():
    digits = load_digits()
    return digits.images.astype("float32"), digits.target


def main():
    X, y = digits_as_sequences()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    pipe = make_pipeline(
        SequenceScaler(),
        LSTMClassifier(bidirectional=True, early_stopping=True, max_iter=60, random_state=0),
    )
    search = GridSearchCV(pipe, {"lstmclassifier__hidden_size": [32, 64]}, cv=3, n_jobs=2)
    start = time.perf_counter()
    search.fit(X_train, y_train)
    print(f"digits as 8-step sequences: grid search in {time.perf_counter() - start:.1f} s")
    print(f"best: {search.best_params_}, cv accuracy {search.best_score_:.3f}")
    print(classification_report(y_test, search.predict(X_test), digits=3))


if __name__ == "__main__":
    main()
