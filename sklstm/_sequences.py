"""Sequence input: validation of the three input formats, storage, padding and batching.

The estimators and transformers accept

- a 3D array ``(n_samples, n_timesteps, n_features)``: sequences of equal length;
- a list of ``(T_i, n_features)`` arrays (or of 1D ``(T_i,)`` arrays, univariate)
  whose lengths differ;
- a 2D array ``(n_samples, n_timesteps)``: univariate series of equal length.
  scikit-learn counts its columns as features, so estimators fitted on 2D input
  record ``n_features_in_ = n_timesteps`` and expect as many columns later.

Whatever the format, sequences are stored once as :class:`Sequences`: all valid
steps stacked into one ``(sum(T_i), n_features)`` array plus offsets, so that
ragged data never pays for padding in memory. Padding happens per batch.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import _check_feature_names, validate_data

__all__ = [
    "Sequences",
    "as_sequences",
    "bucketed_batches",
    "feature_std",
    "is_ragged",
    "sorted_batches",
    "validate_sequences",
]


@dataclass(frozen=True)
class Sequences:
    """Variable-length sequences stored without padding.

    Parameters
    ----------
    data : ndarray [shape=(sum(lengths), n_features)]
        All valid steps, sequence after sequence.
    offsets : ndarray of int64 [shape=(n_sequences + 1,)]
        Sequence ``i`` is ``data[offsets[i]:offsets[i + 1]]``.
    ndim : {2, 3}
        The array dimension of the input: 2 for univariate series given as a 2D
        array, 3 for 3D arrays and ragged lists. Transformers return this format.
    ragged : bool
        Whether the input was a list of sequences (returned as a list again).
    """

    data: np.ndarray
    offsets: np.ndarray
    ndim: int = 3
    ragged: bool = False

    @classmethod
    def from_array(cls, X):
        """Wrap a 2D ``(n, T)`` or 3D ``(n, T, F)`` array (no copy when contiguous)."""
        n, T = X.shape[:2]
        F = 1 if X.ndim == 2 else X.shape[2]
        offsets = np.arange(n + 1, dtype=np.int64) * T
        return cls(np.ascontiguousarray(X).reshape(n * T, F), offsets, X.ndim, False)

    @classmethod
    def from_list(cls, arrays, *, ndim=3, ragged=True):
        """Stack a list of ``(T_i, F)`` arrays."""
        lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return cls(np.concatenate(arrays, axis=0), offsets, ndim, ragged)

    @property
    def lengths(self):
        return np.diff(self.offsets)

    @property
    def n_sequences(self):
        return len(self.offsets) - 1

    @property
    def n_features(self):
        return self.data.shape[1]

    def __len__(self):
        return self.n_sequences

    def __getitem__(self, i):
        return self.data[self.offsets[i] : self.offsets[i + 1]]

    def with_data(self, data):
        """The same layout around new per-step values ``[shape=(sum(T_i), F')]``."""
        return Sequences(data, self.offsets, self.ndim, self.ragged)

    def subset(self, indices):
        """The sequences at ``indices``, as new ``Sequences``."""
        indices = np.asarray(indices)
        lengths = self.lengths[indices]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        rows = _concatenated_ranges(self.offsets[indices], lengths)
        return Sequences(self.data[rows], offsets, self.ndim, self.ragged)

    def padded(self, indices=None, *, length=None, time_major=False):
        """Pad the sequences at ``indices`` with zeros.

        Parameters
        ----------
        indices : array-like of int, default=None
            Which sequences (all when None).
        length : int, default=None
            Padded length; the longest selected sequence when None. Longer
            sequences are cut to their first ``length`` steps.
        time_major : bool, default=False
            Return ``(T, B, F)`` instead of ``(B, T, F)``.

        Returns
        -------
        x : ndarray [shape=(B, T, F) or (T, B, F)]
        lengths : ndarray of int64 [shape=(B,)]
            Valid steps of each row (at most ``length``).
        """
        indices = np.arange(self.n_sequences) if indices is None else np.asarray(indices)
        lengths = self.lengths[indices]
        T = int(lengths.max(initial=0)) if length is None else int(length)
        lengths = np.minimum(lengths, T)
        steps = np.arange(T)[:, None]
        valid = steps < lengths
        rows = (self.offsets[indices] + steps)[valid]
        x = np.zeros((T, len(indices), self.n_features), dtype=self.data.dtype)
        x[valid] = self.data[rows]
        return (x if time_major else x.transpose(1, 0, 2)), lengths

    def to_output(self):
        """Back to the input's format: list of arrays, 2D array or 3D array."""
        if self.ragged:
            return [self[i] for i in range(self.n_sequences)]
        n = self.n_sequences
        if self.ndim == 2:
            return self.data.reshape(n, -1)
        return self.data.reshape(n, -1, self.n_features)


def feature_std(sequences, n_static=0, *, chunk_values=1 << 23):
    """Each feature's standard deviation over the steps of ``sequences`` (float64).

    The ``n_static`` trailing features describe whole sequences and repeat at
    every step: theirs is taken over the sequences' first steps. Two passes in
    chunks of about ``chunk_values`` values, so that no float64 copy of the
    whole data is made.
    """
    data = sequences.data
    n_step = data.shape[1] - n_static
    chunk_rows = max(1, chunk_values // data.shape[1])
    steps = _chunked_std(data[:, :n_step], chunk_rows)
    if not n_static:
        return steps
    firsts = data[sequences.offsets[:-1], n_step:]
    return np.concatenate([steps, _chunked_std(firsts, chunk_rows)])


def _chunked_std(a, chunk_rows):
    n = len(a)
    chunks = range(0, n, chunk_rows)
    mean = sum(a[i : i + chunk_rows].sum(axis=0, dtype=np.float64) for i in chunks) / n
    squares = 0.0
    for i in chunks:
        deviation = a[i : i + chunk_rows] - mean  # float64, chunk_rows rows at most
        squares = squares + np.square(deviation, out=deviation).sum(axis=0)
    return np.sqrt(squares / n)


def _concatenated_ranges(starts, lengths):
    """``concatenate([arange(s, s + n) for s, n in zip(starts, lengths)])``, vectorized."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    steps = np.ones(total, dtype=np.int64)
    steps[0] = starts[0]
    nonempty = lengths[:-1] > 0
    jump_at = ends[:-1][nonempty]
    steps[jump_at] = starts[1:][nonempty] - (starts[:-1] + lengths[:-1] - 1)[nonempty]
    return np.cumsum(steps)


def _is_sequence_list(X):
    return isinstance(X, (list, tuple)) or (
        isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1
    )


def _stack_equal_shapes(X):
    """Lists of equally shaped sequences become one array; ragged lists stay lists."""
    if _is_sequence_list(X) and len(X) > 0 and len({np.shape(x) for x in X}) == 1:
        return np.stack(list(X)) if isinstance(X[0], np.ndarray) else X
    return X


def _ndim(X):
    ndim = getattr(X, "ndim", None)
    return np.asarray(X).ndim if ndim is None else ndim


def is_ragged(X):
    """Whether ``X`` is a list of sequences of different shapes."""
    return _is_sequence_list(X) and len({np.shape(x) for x in X}) > 1


def _check_sequence(seq, i, dtype):
    if isinstance(dtype, tuple):  # keep any of these dtypes, convert to the first otherwise
        kept = getattr(seq, "dtype", None)
        dtype = kept if kept in dtype else dtype[0]
    try:
        # Values beyond the dtype's range become inf here and are reported below.
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.asarray(seq, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"Sequence {i} could not be converted to {np.dtype(dtype)}: {exc}"
        ) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"Sequence {i} has {arr.ndim} dimensions; each sequence must be a 1D array "
            "(T,) or a 2D array (T, n_features)."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"Sequence {i} is empty: every sequence needs at least one time step.")
    return arr


def as_sequences(X, *, dtype=np.float32, ensure_all_finite=True, input_name="X"):
    """Validate 3D or ragged input and store it as :class:`Sequences`.

    2D arrays are accepted here too (univariate series, as arrays); estimators
    route them through scikit-learn's ``validate_data`` instead so that feature
    names and column counts are checked the scikit-learn way.

    Raises
    ------
    TypeError
        For sparse matrices.
    ValueError
        For empty input, 1D or 4D+ arrays, sequences without steps, ragged lists
        whose sequences have different numbers of features, values that cannot be
        converted to numbers, and NaN or infinity when ``ensure_all_finite``.
    """
    if sp.issparse(X):
        raise TypeError(
            f"Sparse input is not supported: {input_name} must be a dense array or a "
            "list of dense sequences. Convert it with X.toarray()."
        )
    X = _stack_equal_shapes(X)
    if _is_sequence_list(X) and len(X) == 0:
        raise ValueError(f"{input_name} is empty: found 0 sequences, a minimum of 1 is required.")
    if is_ragged(X):
        arrays = [_check_sequence(x, i, dtype) for i, x in enumerate(X)]
        first = arrays[0].shape[1]
        bad = next((i for i, a in enumerate(arrays) if a.shape[1] != first), None)
        if bad is not None:
            raise ValueError(
                f"Sequences in {input_name} have inconsistent numbers of features: "
                f"sequence 0 has {first}, sequence {bad} has {arrays[bad].shape[1]}."
            )
        seqs = Sequences.from_list(arrays)
        if ensure_all_finite:
            _check_finite_sequences(seqs, input_name)
        return seqs
    ndim = _ndim(X)
    if ndim not in (2, 3):
        raise ValueError(
            f"Expected {input_name} as a 3D array (n_samples, n_timesteps, n_features), "
            "a list of (n_timesteps, n_features) arrays, or a 2D array (n_samples, "
            f"n_timesteps) of univariate series; got a {ndim}D array."
            + (
                " Reshape your data with X.reshape(1, -1) if it is a single series."
                if ndim == 1
                else ""
            )
        )
    X = check_array(
        X,
        dtype=dtype,
        allow_nd=True,
        ensure_all_finite=ensure_all_finite,
        input_name=input_name,
        ensure_min_features=1,
    )
    if X.ndim == 3 and (X.shape[1] == 0 or X.shape[2] == 0):
        raise ValueError(
            f"{input_name} has shape {X.shape}: sequences need at least one time step "
            "and one feature."
        )
    return Sequences.from_array(X)


def _check_finite_sequences(seqs, input_name):
    finite = np.isfinite(seqs.data).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        seq = int(np.searchsorted(seqs.offsets, row, side="right") - 1)
        kind = (
            "NaN"
            if np.isnan(seqs.data[row]).any()
            else f"infinity or a value too large for {seqs.data.dtype}"
        )
        raise ValueError(
            f"Input {input_name} contains {kind}: sequence {seq}, step {row - seqs.offsets[seq]}."
        )


def validate_sequences(estimator, X, *, reset, dtype=np.float32, ensure_all_finite=True):
    """Validate ``X`` for ``estimator`` and return :class:`Sequences`.

    2D input goes through scikit-learn's ``validate_data`` (column count and
    feature names recorded in ``fit``, checked afterwards). 3D and ragged input
    record ``n_features_in_`` as features per time step.

    When ``reset`` is False, the per-step feature count must match the one the
    estimator was fitted on (``_n_step_features``); 2D input is then accepted as
    univariate series of any length unless the estimator itself was fitted on
    2D input, in which case its column count must match as scikit-learn requires.
    """
    fitted_on_2d = not reset and getattr(estimator, "_fit_ndim", None) == 2
    X = _stack_equal_shapes(X)
    if not is_ragged(X) and not sp.issparse(X) and _ndim(X) == 2:
        if reset or fitted_on_2d:
            X = validate_data(
                estimator,
                X,
                reset=reset,
                dtype=dtype,
                ensure_all_finite=ensure_all_finite,
            )
            seqs = Sequences.from_array(X)
        else:
            seqs = as_sequences(X, dtype=dtype, ensure_all_finite=ensure_all_finite)
    else:
        if sp.issparse(X):
            # Let scikit-learn word the error exactly as for its own estimators.
            validate_data(estimator, X, reset=reset)
        seqs = as_sequences(X, dtype=dtype, ensure_all_finite=ensure_all_finite)
        if reset:
            _check_feature_names(estimator, X, reset=True)
            estimator.n_features_in_ = seqs.n_features
    if reset:
        estimator._fit_ndim = seqs.ndim
        estimator._n_step_features = seqs.n_features
    elif seqs.n_features != estimator._n_step_features:
        raise ValueError(
            f"X has {seqs.n_features} features per time step, but "
            f"{type(estimator).__name__} is expecting {estimator._n_step_features} "
            "features per time step as input."
        )
    return seqs


def bucketed_batches(lengths, batch_size, rng, *, pool_batches=32):
    """Shuffled batches of similar lengths, so that padding wastes little compute.

    The indices are shuffled, cut into pools of ``pool_batches * batch_size``,
    each pool is sorted by length and cut into batches, and the batch order is
    shuffled. Every epoch sees different batches; within a batch, lengths are
    close. With equal lengths this is plain shuffled mini-batching.

    Returns
    -------
    batches : list of ndarray of int
    """
    n = len(lengths)
    order = rng.permutation(n)
    if np.all(lengths == lengths[0]):
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    batches = []
    pool = pool_batches * batch_size
    for start in range(0, n, pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def sorted_batches(lengths, batch_size, max_steps=None):
    """Batches of the indices in order of length, for inference.

    Parameters
    ----------
    lengths : ndarray of int [shape=(n,)]
    batch_size : int
        Most sequences per batch.
    max_steps : int, default=None
        Most padded steps per batch (sequences times the longest length), which
        bounds memory whatever the lengths; a longer single sequence still gets
        a batch of its own.

    Returns
    -------
    batches : list of ndarray of int
        Concatenated, they are a permutation of ``range(len(lengths))``.
    """
    order = np.argsort(lengths, kind="stable")
    sorted_lengths = lengths[order]
    batches, start, n = [], 0, len(order)
    while start < n:
        end = min(start + batch_size, n)
        if max_steps is not None:
            # Padded steps of the first k sequences grow with k: take the most that fit.
            padded = np.arange(1, end - start + 1) * sorted_lengths[start:end]
            end = start + max(1, int(np.searchsorted(padded, max_steps, side="right")))
        batches.append(order[start:end])
        start = end
    return batches
