"""Input formats, their validation, padding and batching."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklstm._sequences import Sequences, as_sequences, bucketed_batches, sorted_batches


def test_ragged_list_is_stored_without_padding():
    X = [np.arange(6.0).reshape(3, 2), np.arange(2.0).reshape(1, 2)]
    seqs = as_sequences(X)
    assert seqs.data.shape == (4, 2) and seqs.data.dtype == np.float32
    np.testing.assert_array_equal(seqs.offsets, [0, 3, 4])
    np.testing.assert_array_equal(seqs.lengths, [3, 1])
    np.testing.assert_array_equal(seqs[1], [[0.0, 1.0]])
    assert seqs.ragged and seqs.ndim == 3


def test_list_of_1d_sequences_is_univariate():
    seqs = as_sequences([[1, 2, 3], [4, 5]])
    assert seqs.n_features == 1
    np.testing.assert_array_equal(seqs.data[:, 0], [1, 2, 3, 4, 5])


def test_equal_length_list_becomes_an_array():
    seqs = as_sequences([np.zeros((4, 3)), np.ones((4, 3))])
    assert not seqs.ragged and seqs.ndim == 3
    assert seqs.to_output().shape == (2, 4, 3)


def test_2d_array_is_univariate_series():
    seqs = as_sequences(np.arange(6.0).reshape(2, 3))
    assert seqs.ndim == 2 and seqs.n_features == 1
    np.testing.assert_array_equal(seqs.lengths, [3, 3])
    np.testing.assert_array_equal(seqs.to_output(), np.arange(6.0).reshape(2, 3))


def test_padded_batch_exact_values_time_major():
    seqs = as_sequences([np.array([[1.0], [2.0], [3.0]]), np.array([[4.0]])])
    x, lengths = seqs.padded([1, 0], time_major=True)
    np.testing.assert_array_equal(lengths, [1, 3])
    np.testing.assert_array_equal(x[:, :, 0], [[4.0, 1.0], [0.0, 2.0], [0.0, 3.0]])
    x, lengths = seqs.padded(length=2)
    np.testing.assert_array_equal(x[:, :, 0], [[1.0, 2.0], [4.0, 0.0]])
    np.testing.assert_array_equal(lengths, [2, 1])


def test_subset_keeps_sequences_intact():
    X = [np.full((n, 2), n, dtype=np.float32) for n in (3, 1, 4, 2)]
    sub = as_sequences(X).subset([2, 0, 3])
    np.testing.assert_array_equal(sub.lengths, [4, 3, 2])
    for got, n in zip(sub.to_output(), (4, 3, 2)):
        np.testing.assert_array_equal(got, np.full((n, 2), n))


def test_with_data_and_to_output_round_trip_ragged():
    X = [np.ones((2, 1)), np.ones((3, 1))]
    seqs = as_sequences(X)
    out = seqs.with_data(seqs.data * 2).to_output()
    assert [o.shape for o in out] == [(2, 1), (3, 1)]
    assert all((o == 2).all() for o in out)


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.zeros(5), ValueError, "got a 1D array. Reshape your data"),
        (np.zeros((2, 3, 4, 5)), ValueError, "got a 4D array"),
        ([], ValueError, "X is empty"),
        (np.zeros((0, 3, 2)), ValueError, "minimum of 1 is required"),
        (np.zeros((2, 0, 2)), ValueError, "at least one time step"),
        ([np.zeros((3, 2)), np.zeros((0, 2))], ValueError, "Sequence 1 is empty"),
        ([np.zeros((3, 2)), np.zeros((2, 3))], ValueError, "sequence 1 has 3"),
        ([np.zeros((3, 2)), np.zeros((2, 2, 2))], ValueError, "Sequence 1 has 3 dimensions"),
        ([np.zeros((3, 2)), np.array([[1.0, np.nan]])], ValueError, "NaN: sequence 1, step 0"),
        (
            [np.zeros((3, 2)), np.array([[np.inf, 1.0]] * 2)],
            ValueError,
            "too large for float32: sequence 1",
        ),
        (np.full((2, 3, 1), np.nan), ValueError, "NaN"),
        ([["a", "b"], ["c"]], ValueError, "Sequence 0 could not be converted"),
        (sp.csr_matrix(np.eye(3)), TypeError, "Sparse input is not supported"),
    ],
)
def test_bad_input_gets_a_clear_error(X, error, match):
    with pytest.raises(error, match=match):
        as_sequences(X)


def test_bucketed_batches_cover_every_index_once_with_close_lengths():
    rng = np.random.RandomState(0)
    lengths = rng.randint(15, 231, size=1000)
    batches = bucketed_batches(lengths, 32, rng)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean(
        [np.ptp(lengths[b]) for b in np.array_split(rng.permutation(1000), 32)]
    )
    assert spread < random_spread / 5
    # A new epoch shuffles differently.
    again = bucketed_batches(lengths, 32, rng)
    assert any(not np.array_equal(a, b) for a, b in zip(batches, again))


def test_sorted_batches_are_in_length_order():
    lengths = np.array([5, 1, 3, 3, 9])
    batches = sorted_batches(lengths, 2)
    np.testing.assert_array_equal(np.concatenate(batches), [1, 2, 3, 0, 4])


def test_from_array_does_not_copy_contiguous_input():
    X = np.zeros((3, 4, 2), dtype=np.float32)
    assert np.shares_memory(Sequences.from_array(X).data, X)


def test_sorted_batches_respect_the_padded_step_budget():
    lengths = np.array([1000, 10, 10, 10, 10, 500, 5000, 20])
    batches = sorted_batches(lengths, 4, max_steps=1000)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(8))
    for b in batches:
        assert len(b) == 1 or len(b) * lengths[b].max() <= 1000
        assert len(b) <= 4
    assert [len(b) for b in batches] == [4, 2, 1, 1]
