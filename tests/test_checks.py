"""The shared argument checks, the one error grammar, the JSON encoding, and the test settings."""

import json
import math
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from actlab import checks
from actlab.io import atomic_path, floats, jsonable, read_json, write_json

GRAMMAR = r"^(\w[\w.]*: )?[\w\[\] .,()*=']+: expected .+, received .+"


def test_integer_accepts_python_and_numpy_ints_and_refuses_bools_and_floats():
    assert checks.integer(3, "n") == 3 and type(checks.integer(np.int64(3), "n")) is int
    for value in (True, 2.0, "2", None):
        with pytest.raises(TypeError, match=f"n: expected an int >= 1, received {value!r}"):
            checks.integer(value, "n", minimum=1)
    with pytest.raises(ValueError, match="f: n: expected an int >= 1, received 0"):
        checks.integer(0, "n", minimum=1, where="f")


@pytest.mark.parametrize(
    ("kwargs", "value", "expected"),
    [
        ({}, math.inf, "a finite number"),
        ({"low": 0.0}, -1.0, "a finite number >= 0"),
        ({"low": 0.0, "low_open": True}, 0.0, "a finite number > 0"),
        ({"high": 6.0}, 7.0, "a finite number <= 6"),
        ({"low": 0.0, "high": 1.0, "high_open": True}, 1.0, r"a finite number in \[0, 1\)"),
        ({"low": -1.0, "high": 1.0, "low_open": True}, -1.0, r"a finite number in \(-1, 1\]"),
    ],
)
def test_number_names_the_interval_and_the_value_received(kwargs, value, expected):
    with pytest.raises(ValueError, match=f"x: expected {expected}, received {value!r}"):
        checks.number(value, "x", **kwargs)


def test_number_returns_a_float_and_refuses_what_is_not_a_real_scalar():
    assert checks.number(np.float32(0.5), "x") == 0.5 and checks.number(jnp.array(2), "x") == 2.0
    for value in ("1", True, [1.0], np.ones(2), 1j):
        with pytest.raises(TypeError, match="x: expected a finite number, received"):
            checks.number(value, "x")


def test_the_other_checks_return_what_they_checked():
    np.testing.assert_array_equal(checks.positive_numbers([1, 2.5], "lr"), [1.0, 2.5])
    with pytest.raises(ValueError, match="lr: expected a non-empty sequence of finite numbers > 0"):
        checks.positive_numbers([], "lr")
    assert checks.one_of("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="mode: expected one of 'a', 'b', received 'c'"):
        checks.one_of("c", "mode", ("a", "b"))
    assert checks.seed(0) == 0
    key = checks.prng_key(3)
    assert jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) and key.shape == ()
    assert checks.prng_key(key) is key
    raw = jax.random.key_data(jax.random.key(3))
    np.testing.assert_array_equal(jax.random.key_data(checks.prng_key(raw)), raw)
    with pytest.raises(ValueError, match=r"key: expected an int >= 0 or a single jax.random key"):
        checks.prng_key(jax.random.split(key, 2))


def test_floating_batch_checks_dtype_rank_emptiness_and_features():
    x = checks.floating_batch(np.ones((3, 2), np.float32), features=2)
    assert isinstance(x, jax.Array) and x.shape == (3, 2)
    with pytest.raises(
        TypeError, match="g: x: expected a floating-point array, received dtype int32"
    ):
        checks.floating_batch(np.ones((3, 2), np.int32), where="g")
    for bad in (np.ones(3), np.ones((0, 2)), np.ones((3, 4))):
        with pytest.raises(
            ValueError, match=r"x: expected shape \(batch >= 1, 2\), received shape"
        ):
            checks.floating_batch(bad.astype(np.float32), features=2)


def test_messages_follow_one_grammar():
    assert checks.message("n", "an int", "1.5", where="f") == "f: n: expected an int, received 1.5"
    assert checks.show(np.ones((2, 3))) == "an array of dtype float64 and shape (2, 3)"
    assert len(checks.show("x" * 200)) == 80
    for call in (
        lambda: checks.integer(-1, "depth", minimum=0, where="MLP"),
        lambda: checks.number(2.0, "rate", high=1.0),
        lambda: checks.one_of(3, "norm", (None, "batch")),
    ):
        with pytest.raises(ValueError) as info:
            call()
        assert __import__("re").match(GRAMMAR, str(info.value)), str(info.value)


def test_json_writes_nan_as_null_and_infinities_as_strings_and_reads_them_back(tmp_path):
    data = {"a": np.array([1.0, np.nan, np.inf, -np.inf]), "b": (np.int64(2), jnp.float32(0.5))}
    assert jsonable(data) == {"a": [1.0, None, "inf", "-inf"], "b": [2, 0.5]}
    path = write_json(tmp_path / "r.json", data)
    text = path.read_text()
    json.loads(text)  # strict JSON: no NaN or Infinity tokens
    assert "NaN" not in text and "Infinity" not in text
    back = read_json(path)
    np.testing.assert_array_equal(floats(back["a"]), [1.0, np.nan, np.inf, -np.inf])
    with pytest.raises(TypeError, match="write_json: obj: expected JSON-ready values"):
        jsonable({"f": object()})


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists() and os.listdir(target.parent) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and oct(target.stat().st_mode)[-3:] == "644"


def test_a_warning_raised_from_actlab_is_an_error_and_one_from_elsewhere_is_not():
    with pytest.raises(UserWarning, match="ours"):
        warnings.warn_explicit("ours", UserWarning, "actlab/io.py", 1, module="actlab.io")
    with warnings.catch_warnings(record=True) as caught:  # keeps the session's filters
        warnings.warn_explicit("theirs", UserWarning, "numpy/x.py", 1, module="numpy.x")
        warnings.warn_explicit("not ours", UserWarning, "actlabx.py", 1, module="actlabx")
    assert [str(w.message) for w in caught] == ["theirs", "not ours"]
