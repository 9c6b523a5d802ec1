"""Resuming an interrupted fit exactly where its last checkpoint left it."""

import hashlib

import numpy as np

__all__ = ["check_same_data", "data_fingerprint", "restore_training"]


def data_fingerprint(sequences, y_encoded, sample_weight):
    """A digest of the training data, to refuse resuming a fit on other data."""
    digest = hashlib.sha256()
    targets = y_encoded.arrays() if hasattr(y_encoded, "arrays") else (y_encoded,)
    for array in (sequences.offsets, sequences.data, *targets, sample_weight):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def check_same_data(fingerprint, sequences, y_encoded, sample_weight):
    if fingerprint != data_fingerprint(sequences, y_encoded, sample_weight):
        raise ValueError(
            "This checkpoint was written while training on other data: resume it with "
            "the same X, y and sample_weight, or start a new fit."
        )


def restore_training(net, training, callbacks):
    """Put a freshly built net back in the state recorded by a checkpoint.

    Returns the number of epochs the checkpointed fit had completed.
    """
    net.callbacks = callbacks
    net.initialize_callbacks()
    net.iterator_train__random_state = dict(net.callbacks_)["seeding"].random_state
    for record in training["epochs"]:
        net.history.new_epoch()
        for key, value in record.items():
            net.history.record(key, value)
    net.optimizer_.load_state_dict(training["optimizer"])
    dict(net.callbacks_)["monitor"].set_state(training["monitor"], net)
    return len(training["epochs"])
