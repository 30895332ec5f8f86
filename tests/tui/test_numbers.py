"""A pane's number format: every number fits its cell, and no non-zero value reads as zero.

Batch rows: z has shape (B, n_l); W has shape (n_l, n_{l-1}).
"""

from __future__ import annotations

import numpy as np
import pytest
from nnstep.tui.numbers import as_matrix, number_format, stats


def shown(values: list[float], significant: int) -> list[str]:
    """The values as a pane with `significant` digits writes them."""
    array = np.array(values)
    return number_format(stats(array), significant).write(array.tolist())


@pytest.mark.parametrize("significant", [2, 4, 6])
def test_a_small_gradient_beside_a_large_one_never_reads_as_zero(significant: int) -> None:
    """0.0009 beside 0.3 at 2 digits was written 0.00 while an exact zero is written 0: a user
    reading the pane took a live gradient for a dead one."""
    texts = shown([0.3, 0.0009, 0.0, -0.1, -0.00004], significant)
    assert texts[2].strip() == "0"
    for value, text in zip([0.3, 0.0009, -0.1, -0.00004], texts[:2] + texts[3:]):
        assert float(text) != 0, (value, text)
        assert np.sign(float(text)) == np.sign(value), (value, text)


def test_the_value_is_shown_not_hidden_behind_a_bound() -> None:
    """The smallest value is written as a number (no `<0.01`), rounded to the fewest decimals that
    keep it non-zero while that is no wider than exponent form, else in exponent form."""
    assert shown([0.3, 0.0009], 2) == ["0.300", "0.001"]
    assert shown([0.3, 0.0004], 2) == ["0.3000", "0.0004"]
    assert shown([0.5, 1e-12], 2) == ["5.0e-01", "1.0e-12"]
    assert shown([3.0, 0.02], 2) == ["3.00", "0.02"]


def test_tensors_without_small_values_keep_their_format() -> None:
    """Only a value that would round to zero changes the format: 0.40 0.45 stay as they were."""
    assert shown([0.4, 0.45], 2) == ["0.40", "0.45"]
    assert shown([0.4, 0.45], 4) == ["0.4000", "0.4500"]
    assert shown([1.0, 0.0, 2.0], 2) == ["1", "0", "2"]


@pytest.mark.parametrize("seed", range(20))
def test_no_non_zero_value_is_written_as_zero(seed: int) -> None:
    """Random tensors spanning many decades (zeros, tiny, huge, signs): each non-zero value's text is
    non-zero and as wide as the format says."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(40) * 10.0 ** rng.integers(-12, 12, 40)
    values[rng.integers(0, 40, 5)] = 0.0
    for significant in (2, 4, 6):
        form = number_format(stats(values), significant)
        for value, text in zip(values.tolist(), form.write(values.tolist())):
            assert len(text) == form.width
            assert (float(text) == 0) == (value == 0), (value, text, significant)


@pytest.mark.parametrize("seed", range(20))
def test_fewer_digits_are_never_wider(seed: int) -> None:
    """The layout gives a narrow pane fewer digits to fit: a format that grew wider with fewer digits
    (decimals kept for a small value) left panes wider than their numbers."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(30) * 10.0 ** rng.integers(-6, 3, 30)
    widths = [number_format(stats(values), significant).width for significant in range(2, 10)]
    assert widths == sorted(widths), widths


def test_as_matrix_is_the_same_object_for_the_same_array() -> None:
    """Panes keep their drawn lines by the identity of what they show: a vector's row, a matrix itself."""
    vector, matrix = np.arange(5.0), np.ones((2, 3))
    assert as_matrix(vector) is as_matrix(vector) and as_matrix(vector).shape == (1, 5)
    assert as_matrix(matrix) is matrix
    assert as_matrix(np.float64(2.0)).shape == (1, 1)
    assert as_matrix(np.arange(5.0)) is not as_matrix(vector)
