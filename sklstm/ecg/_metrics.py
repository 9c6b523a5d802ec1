"""Beat classification and detection statistics as ANSI/AAMI EC57 reports them."""

import numpy as np
from sklearn.metrics import confusion_matrix

from ._records import AAMI_CLASSES

__all__ = ["classification_statistics", "detection_statistics"]


def _ratio(num, den):
    return float(num / den) if den else 0.0


def classification_statistics(y_true, y_pred, *, labels=AAMI_CLASSES):
    """Gross (pooled) beat classification statistics.

    Parameters
    ----------
    y_true : array-like of str of shape (n_beats,)
        Reference AAMI classes.
    y_pred : array-like of str of shape (n_beats,)
        Predicted AAMI classes.
    labels : sequence of str, default=AAMI_CLASSES
        Classes, in the order of the confusion matrix.

    Returns
    -------
    stats : dict
        ``n_beats``, ``accuracy``, ``classes`` (per class: sensitivity
        ``se`` = TP / (TP + FN), positive predictivity ``ppv`` = TP / (TP + FP),
        ``f1`` and ``support``), ``confusion_matrix`` (rows: reference, columns:
        predicted) and ``labels``. Ratios with an empty denominator are 0.

    Examples
    --------
    >>> s = classification_statistics(["N", "N", "V", "S"], ["N", "V", "V", "N"])
    >>> s["accuracy"], s["classes"]["V"]
    (0.5, {'se': 1.0, 'ppv': 0.5, 'f1': 0.6666666666666666, 'support': 1})
    """
    labels = list(labels)
    y_true = np.asarray(y_true)
    cm = confusion_matrix(y_true, np.asarray(y_pred), labels=labels)
    classes = {}
    for k, label in enumerate(labels):
        tp, support, predicted = cm[k, k], cm[k].sum(), cm[:, k].sum()
        se, ppv = _ratio(tp, support), _ratio(tp, predicted)
        classes[label] = {
            "se": se,
            "ppv": ppv,
            "f1": _ratio(2 * se * ppv, se + ppv),
            "support": int(support),
        }
    return {
        "n_beats": int(len(y_true)),
        "accuracy": _ratio(np.trace(cm), cm.sum()),
        "classes": classes,
        "confusion_matrix": cm.tolist(),
        "labels": labels,
    }


def detection_statistics(n_reference, n_detected, n_matched, *, n_excused=0):
    """Beat detection sensitivity and positive predictivity.

    Parameters
    ----------
    n_reference : int
        Reference beats.
    n_detected : int
        Detected beats.
    n_matched : int
        Pairs found by :func:`~sklstm.ecg.match_beats`.
    n_excused : int, default=0
        Unmatched detections inside ventricular flutter/fibrillation episodes,
        which have no reference beats to match and which EC57 does not count
        as false positives.

    Returns
    -------
    stats : dict
        ``se``, ``ppv``, ``tp``, ``fn``, ``fp``.

    Examples
    --------
    >>> detection_statistics(100, 101, 99)
    {'se': 0.99, 'ppv': 0.9801980198019802, 'tp': 99, 'fn': 1, 'fp': 2}
    """
    tp = int(n_matched)
    fn = int(n_reference - n_matched)
    fp = int(n_detected - n_matched - n_excused)
    return {"se": _ratio(tp, tp + fn), "ppv": _ratio(tp, tp + fp), "tp": tp, "fn": fn, "fp": fp}
