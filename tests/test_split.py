"""The shared split: its fingerprint and how a task is cut into parts."""
import numpy as np
import pandas as pd
import pytest

from bench.core.task import Schema, Split, Task


def _split(train=(0, 1, 2, 3), valid=(4, 5), test=(6, 7), name="s"):
    return Split(name, np.array(train), np.array(valid), np.array(test))


def test_fingerprint_is_deterministic_and_short_hex():
    a, b = _split(), _split()
    assert a.fingerprint == b.fingerprint
    assert len(a.fingerprint) == 16
    int(a.fingerprint, 16)


def test_fingerprint_ignores_dtype_and_container():
    as_lists = Split("s", [0, 1, 2, 3], [4, 5], [6, 7])
    as_int32 = Split("s", np.arange(4, dtype=np.int32), np.array([4, 5], dtype=np.int32),
                     np.array([6, 7], dtype=np.uint8))
    assert as_lists.fingerprint == as_int32.fingerprint == _split().fingerprint


def test_fingerprint_ignores_the_split_name():
    # the hash is of the row indices only; the name is recorded beside it
    assert _split(name="a").fingerprint == _split(name="b").fingerprint


def test_one_index_moved_changes_the_fingerprint():
    base = _split()
    moved = _split(train=(0, 1, 2), valid=(3, 4, 5))  # row 3 moved from train to valid
    assert base.fingerprint != moved.fingerprint
    replaced = _split(test=(6, 8))  # one test row replaced
    assert base.fingerprint != replaced.fingerprint


def test_swapping_parts_changes_the_fingerprint():
    a = _split(train=(0, 1), valid=(2, 3), test=(4, 5))
    swapped = _split(train=(2, 3), valid=(0, 1), test=(4, 5))
    assert a.fingerprint != swapped.fingerprint


def test_order_within_a_part_matters():
    assert _split(train=(0, 1, 2, 3)).fingerprint != _split(train=(3, 2, 1, 0)).fingerprint


def test_sizes():
    assert _split().sizes() == {"train": 4, "valid": 2, "test": 2}


def _task(X):
    return Task(dataset="t", kind="regression", target="y", metrics=("mae",),
                schema=Schema(categorical={"c": 2}, continuous=("x",)), X=X,
                y=np.arange(10, dtype=np.float64) * 10,
                split=Split("s", np.array([5, 0, 9]), np.array([1, 2]), np.array([7])),
                target_transform="log")


def test_part_of_a_dataframe_task():
    X = pd.DataFrame({"c": [0, 1] * 5, "x": np.arange(10) + 0.5}, index=np.arange(100, 110))
    train = _task(X).part("train")
    assert list(train.X.index) == [0, 1, 2]  # positions, index reset
    assert list(train.X["x"]) == [5.5, 0.5, 9.5]
    assert list(train.y) == [50.0, 0.0, 90.0]
    assert len(train) == 3
    assert train.kind == "regression" and train.target_transform == "log"
    assert train.schema.columns == ["c", "x"]
    test = _task(X).part("test")
    assert list(test.X["c"]) == [1] and list(test.y) == [70.0]


def test_part_of_an_array_task():
    X = np.arange(10 * 2 * 2 * 1, dtype=np.uint8).reshape(10, 2, 2, 1)
    valid = _task(X).part("valid")
    assert valid.X.shape == (2, 2, 2, 1)
    np.testing.assert_array_equal(valid.X, X[[1, 2]])
    assert list(valid.y) == [10.0, 20.0]


def test_part_does_not_alias_the_task_dataframe():
    X = pd.DataFrame({"c": [0, 1] * 5, "x": np.arange(10) + 0.5})
    task = _task(X)
    part = task.part("train")
    part.X.loc[0, "x"] = -1.0
    assert task.X["x"].iloc[5] == 5.5


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown task kind 'regresion'"):
        Task(dataset="t", kind="regresion", target="y", metrics=(), schema=Schema(), X=None,
             y=np.zeros(1), split=_split())
