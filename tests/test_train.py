"""actlab.train: the jitted Optax loop, its history, NaN handling, ensembles, save and load.

Compilation dominates the cost of these tests, so they share a few configurations: the same
module-level optimizer objects, model builders, data and step counts compile once.
"""

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from actlab import data, train
from actlab.models import MLP, PReLU
from actlab.train import _loop

BCE = "sigmoid_binary_cross_entropy"
ADAM = optax.adam(0.05)
SGD = optax.sgd(1.0)
STEPS = 100
QUAD = data.quadrants(64, seed=0, margin=0.1)
REG = data.teacher_student(64, seed=0, in_features=2, widths=(8,))
BLOBS = data.blobs(64, seed=0, centers=3)


def small_mlp(rngs: nnx.Rngs) -> MLP:
    return MLP(2, [8], 1, rngs=rngs)


def _fit(model, **kwargs):
    kwargs = {"optimizer": ADAM, "loss": BCE, "steps": STEPS, "progress": False} | kwargs
    return train.fit(model, QUAD.x, QUAD.y, **kwargs)


def _params(model):
    """A snapshot of the parameters (``nnx.state`` shares the model's live Variables)."""
    return jax.tree.map(lambda a: a, nnx.state(model, nnx.Param))


def _global_norm(tree) -> float:
    return float(optax.tree.norm(tree))


@pytest.fixture(scope="module")
def fitted():
    model = small_mlp(nnx.Rngs(0))
    before = _params(model)
    history = _fit(model)
    return model, before, history


@pytest.fixture(scope="module")
def ensemble():
    members = train.init_ensemble(small_mlp, seeds=2)
    return train.fit_ensemble(
        members, QUAD.x, QUAD.y, optimizer=ADAM, loss=BCE, steps=STEPS, progress=False
    )


# ----------------------------------------------------------------------------- single model


def test_fit_trains_the_model_in_place_and_records_every_step(fitted):
    model, before, history = fitted
    after = _params(model)
    assert _global_norm(jax.tree.map(jnp.subtract, after, before)) > 0.1
    np.testing.assert_array_equal(history.step, np.arange(STEPS))
    assert history.loss.shape == history.accuracy.shape == history.grad_norm.shape == (STEPS,)
    assert history.loss[-1] < 0.5 * history.loss[0]
    result = train.evaluate(model, QUAD.x, QUAD.y, loss=BCE)
    assert result.accuracy >= 0.95 and result.loss < history.loss[0]


def test_history_loss_is_the_minibatch_loss_before_each_update(fitted):
    _, before, history = fitted
    model = small_mlp(nnx.Rngs(0))
    nnx.update(model, before)
    first = train.evaluate(model, QUAD.x, QUAD.y, loss=BCE)
    np.testing.assert_allclose(history.loss[0], first.loss, rtol=1e-5)
    np.testing.assert_allclose(history.accuracy[0], first.accuracy)


def test_per_layer_gradient_norms_combine_into_the_global_norm(fitted):
    _, _, history = fitted
    assert set(history.layer_grad_norms) == {"hidden/0", "output"}
    squares = sum(v**2 for v in history.layer_grad_norms.values())
    np.testing.assert_allclose(np.sqrt(squares), history.grad_norm[history.layer_step], rtol=1e-5)


def test_history_keeps_every_kth_step_the_last_and_chosen_layer_steps():
    history = _fit(small_mlp(nnx.Rngs(0)), record_every=30, layer_steps=[50, 0])
    np.testing.assert_array_equal(history.step, [0, 30, 60, 90, 99])
    np.testing.assert_array_equal(history.layer_step, [0, 50])
    assert history.layer_grad_norms["output"].shape == (2,)
    history = _fit(small_mlp(nnx.Rngs(0)), layer_steps=40)
    np.testing.assert_array_equal(history.layer_step, [0, 40, 80, 99])


def test_progress_bar_is_shown_unless_progress_is_false(monkeypatch):
    bars = []

    class FakeBar:
        def __init__(self, **kwargs):
            self.kwargs, self.done = kwargs, 0
            bars.append(self)

        def update(self, n):
            self.done += n

        def set_postfix(self, **kwargs):
            pass

        def close(self):
            pass

    monkeypatch.setattr(_loop, "tqdm", FakeBar)
    _fit(small_mlp(nnx.Rngs(0)), progress=True, chunk_steps=50)
    _fit(small_mlp(nnx.Rngs(0)), progress=False, chunk_steps=50)
    assert [b.kwargs["disable"] for b in bars] == [False, True]
    assert [b.done for b in bars] == [STEPS, STEPS]
    assert bars[0].kwargs["total"] == STEPS


def test_clip_norm_caps_the_gradient_used_by_the_update():
    def one_sgd_step(clip_norm):
        model = small_mlp(nnx.Rngs(0))
        before = _params(model)
        history = _fit(model, optimizer=SGD, steps=1, clip_norm=clip_norm)
        step = jax.tree.map(jnp.subtract, _params(model), before)
        return _global_norm(step), float(history.grad_norm[0])

    unclipped, grad_norm = one_sgd_step(None)
    np.testing.assert_allclose(unclipped, grad_norm, rtol=1e-5)  # SGD with lr 1
    clipped, grad_norm_before_clipping = one_sgd_step(grad_norm / 10)
    np.testing.assert_allclose(clipped, grad_norm / 10, rtol=1e-5)
    assert grad_norm_before_clipping == pytest.approx(grad_norm)


def test_each_epoch_visits_every_example_at_most_once_in_a_fresh_order():
    batches = jax.jit(_loop._batch_indices, static_argnums=(2, 3, 4))
    idx = np.asarray(batches(jax.random.key(0), jnp.int32(0), 10, 3, 6))
    assert idx.shape == (6, 3)
    epochs = idx.reshape(2, 9)  # 3 batches of 3 per epoch; one example left out each time
    assert all(len(set(e)) == 9 for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])


def test_mse_regression_learns_and_has_no_accuracy():
    model = small_mlp(nnx.Rngs(0))
    history = train.fit(model, REG.x, REG.y, optimizer=ADAM, loss="mse", steps=STEPS,
                        progress=False)  # fmt: skip
    assert history.accuracy is None
    assert history.loss[-1] < 0.2 * history.loss[0]
    assert train.evaluate(model, REG.x, REG.y, loss="mse").accuracy is None


def test_a_callable_loss_is_minimised_as_given():
    def mean_abs(outputs, y):
        return jnp.mean(jnp.abs(outputs - y))

    model = small_mlp(nnx.Rngs(0))
    start = float(mean_abs(model(REG.x), REG.y))
    history = train.fit(model, REG.x, REG.y, optimizer=ADAM, loss=mean_abs, steps=STEPS,
                        progress=False)  # fmt: skip
    np.testing.assert_allclose(history.loss[0], start, rtol=1e-5)
    assert history.accuracy is None and history.loss[-1] < history.loss[0]


def test_nonfinite_loss_stops_with_an_error_naming_the_step_unless_told_to_continue():
    x = REG.x * 100.0  # SGD with learning rate 1 on huge inputs diverges within a few steps

    def run(on_nonfinite):
        model = small_mlp(nnx.Rngs(0))
        return train.fit(model, x, REG.y, optimizer=SGD, loss="mse", steps=40, chunk_steps=8,
                         progress=False, on_nonfinite=on_nonfinite)  # fmt: skip

    history = run("continue")
    bad = np.flatnonzero(~np.isfinite(history.loss))
    assert len(bad) > 0 and bad[0] > 0
    with pytest.raises(train.NonFiniteLossError, match=f"at step {bad[0]};") as info:
        run("raise")
    assert info.value.step == bad[0] and info.value.member is None
    assert "on_nonfinite='continue'" in str(info.value)


def _rich_mlp(rngs: nnx.Rngs) -> MLP:
    per_unit_prelu = functools.partial(PReLU, per_unit=True)
    return MLP(2, [8], 3, norm="batch", dropout=0.2, activation=per_unit_prelu, rngs=rngs)


def _fit_blobs(model, key):
    return train.fit(model, BLOBS.x, BLOBS.y, optimizer=ADAM, loss="softmax_cross_entropy",
                     steps=12, batch_size=16, key=key, progress=False)  # fmt: skip


def test_minibatches_with_batch_norm_dropout_and_prelu_train_and_shuffle_by_key():
    template = _rich_mlp(nnx.Rngs(0))
    model = nnx.clone(template)
    slope, mean = model.activations[0].slope[...], model.norms[0].mean[...]
    history = _fit_blobs(model, key=1)
    assert history.loss.shape == history.accuracy.shape == (12,)
    assert not np.allclose(model.activations[0].slope[...], slope)  # learnable parameter trained
    assert not np.allclose(model.norms[0].mean[...], mean)  # running statistics carried along
    assert not model.dropouts[0].deterministic  # still in training mode
    result = train.evaluate(model, BLOBS.x, BLOBS.y, loss="softmax_cross_entropy")
    assert not model.dropouts[0].deterministic  # evaluate leaves the mode alone
    assert result == train.evaluate(model, BLOBS.x, BLOBS.y, loss="softmax_cross_entropy")

    same = _fit_blobs(nnx.clone(template), key=jax.random.key(1))  # an int key or its key
    other = _fit_blobs(nnx.clone(template), key=2)
    np.testing.assert_array_equal(history.loss, same.loss)
    assert not np.allclose(history.loss, other.loss)
    with pytest.raises(
        ValueError, match=r"fit: key: expected a key .*\(pass key=...\), received None"
    ):
        _fit_blobs(template, key=None)


def test_save_and_load_restore_parameters_and_history(fitted, tmp_path):
    model, _, history = fitted
    train.save(tmp_path / "ckpt", model, history)
    fresh = small_mlp(nnx.Rngs(9))
    restored, restored_history = train.load(tmp_path / "ckpt", fresh)
    assert restored is fresh
    np.testing.assert_array_equal(fresh(QUAD.x), model(QUAD.x))
    np.testing.assert_array_equal(restored_history.loss, history.loss)
    assert restored_history.layer_grad_norms.keys() == history.layer_grad_norms.keys()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        train.save(tmp_path / "ckpt", model, history)
    train.save(tmp_path / "ckpt", model, None, overwrite=True)
    assert train.load(tmp_path / "ckpt", fresh)[1] is None


# ----------------------------------------------------------------------------- ensembles


def test_ensemble_member_equals_the_same_model_trained_alone(ensemble):
    assert len(ensemble) == 2 and ensemble.history.loss.shape == (2, STEPS)
    init_key, data_key = jax.random.split(ensemble.keys[1])
    model = small_mlp(nnx.Rngs(init_key))
    history = _fit(model, key=data_key)
    np.testing.assert_allclose(ensemble.history.loss[1], history.loss, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ensemble.member(1)(QUAD.x), model(QUAD.x), rtol=1e-4, atol=1e-5)


def test_ensemble_members_differ_and_evaluate_and_apply_per_member(ensemble):
    outputs = ensemble.apply(QUAD.x)
    assert outputs.shape == (2, 64, 1)
    assert not np.allclose(outputs[0], outputs[1])
    result = ensemble.evaluate(QUAD.x, QUAD.y, loss=BCE)
    assert result.loss.shape == result.accuracy.shape == (2,)
    expected = np.mean((np.asarray(outputs[..., 0]) > 0) == (QUAD.y == 1), axis=1)
    np.testing.assert_allclose(result.accuracy, expected)
    with pytest.raises(IndexError, match=r"in \[0, 2\)"):
        ensemble.member(2)


def test_ensemble_save_and_load_round_trip(ensemble, tmp_path):
    train.save(tmp_path / "ens", ensemble)
    like = train.init_ensemble(small_mlp, seeds=2)
    loaded, history = train.load(tmp_path / "ens", like)
    np.testing.assert_array_equal(loaded.apply(QUAD.x), ensemble.apply(QUAD.x))
    np.testing.assert_array_equal(history.loss, ensemble.history.loss)
    np.testing.assert_array_equal(
        jax.random.key_data(loaded.keys), jax.random.key_data(ensemble.keys)
    )
    with pytest.raises(
        ValueError, match="load: like: expected an ensemble of the saved grid shape"
    ):
        train.load(tmp_path / "ens", train.init_ensemble(small_mlp, seeds=2, init_scales=[1, 2]))


def test_ensemble_crosses_seeds_with_learning_rates_in_row_major_order():
    members = train.init_ensemble(small_mlp, seeds=2, learning_rates=[0.5, 1.0])
    assert members.grid_shape == (2, 2, 1) and len(members) == 4
    np.testing.assert_array_equal(members.learning_rate, [0.5, 1.0, 0.5, 1.0])
    trained = train.fit_ensemble(members, QUAD.x, QUAD.y, optimizer=optax.sgd, loss=BCE, steps=1,
                                 progress=False)  # fmt: skip
    step = jax.tree.map(jnp.subtract, trained.params, members.params)
    kernel = np.asarray(step["output"]["kernel"][...])
    np.testing.assert_allclose(kernel[1], 2 * kernel[0], rtol=1e-5)  # same seed, twice the rate
    np.testing.assert_allclose(kernel[3], 2 * kernel[2], rtol=1e-5)
    assert not np.allclose(kernel[0], kernel[2])  # another seed


def test_init_scales_multiply_the_weight_variance_of_the_same_draw():
    members = train.init_ensemble(small_mlp, seeds=2, init_scales=[1.0, 4.0])
    np.testing.assert_array_equal(members.init_scale, [1.0, 4.0, 1.0, 4.0])
    kernel = np.asarray(members.params["hidden"][0]["kernel"][...])
    bias = np.asarray(members.params["hidden"][0]["bias"][...])
    np.testing.assert_allclose(kernel[1], 2 * kernel[0], rtol=1e-6)
    np.testing.assert_array_equal(bias[1], bias[0])
    plain = train.init_ensemble(small_mlp, seeds=2)
    np.testing.assert_array_equal(plain.params["hidden"][0]["kernel"][...][1], kernel[2])


def test_nonfinite_check_names_the_earliest_step_then_the_first_member():
    loss = np.array([[1.0, 1.0, np.inf, np.nan], [1.0, 1.0, 1.0, 1.0], [1.0, np.nan, 1.0, 1.0]])
    with pytest.raises(train.NonFiniteLossError, match="at step 11 in ensemble member 2") as info:
        _loop._check_finite(loss, 10, ensemble=True)
    assert (info.value.step, info.value.member) == (11, 2)
    _loop._check_finite(loss[1], 0, ensemble=False)  # all finite: no error


@pytest.mark.slow  # a compilation of its own (about 2 s)
def test_ensemble_error_names_the_diverging_member():
    members = train.init_ensemble(small_mlp, seeds=2, learning_rates=[1e-4, 1.0])
    with pytest.raises(train.NonFiniteLossError, match="in ensemble member 1") as info:
        train.fit_ensemble(members, REG.x * 100.0, REG.y, optimizer=optax.sgd, loss="mse",
                           steps=40, chunk_steps=8, progress=False)  # fmt: skip
    assert info.value.member == 1 and info.value.step > 0


# ----------------------------------------------------------------------------- history files


def test_history_json_round_trip_writes_nan_as_null_and_infinity_as_a_string(tmp_path):
    history = train.History(
        step=np.arange(3),
        loss=np.array([1.0, np.nan, np.inf]),
        accuracy=None,
        grad_norm=np.array([1.0, 2.0, 3.0]),
        layer_step=np.array([0]),
        layer_grad_norms={"output": np.array([0.5])},
    )
    path = history.save_json(tmp_path / "h.json")
    assert json.loads(path.read_text())["loss"] == [1.0, None, "inf"]
    back = train.History.load_json(path)
    np.testing.assert_array_equal(back.loss, [1.0, np.nan, np.inf])
    assert back.accuracy is None and back.layer_grad_norms["output"].tolist() == [0.5]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"optimizer": optax.adam}, TypeError, "optax.GradientTransformation"),
        (
            {"loss": "hinge"},
            ValueError,
            "loss: expected one of 'softmax_cross_entropy', .*, received 'hinge'",
        ),
        ({"loss": 3}, TypeError, "loss: expected one of .* or a callable, received int"),
        ({"steps": 0}, ValueError, "fit: steps: expected an int >= 1, received 0"),
        (
            {"batch_size": 65},
            ValueError,
            "fit: batch_size: expected at most the 64 examples, received 65",
        ),
        ({"batch_size": 0}, ValueError, "fit: batch_size: expected an int >= 1, received 0"),
        (
            {"clip_norm": 0.0},
            ValueError,
            "fit: clip_norm: expected a finite number > 0, received 0.0",
        ),
        ({"record_every": 0}, ValueError, "fit: record_every: expected an int >= 1, received 0"),
        (
            {"layer_steps": [STEPS]},
            ValueError,
            r"fit: layer_steps: expected .* in \[0, 100\), received \[100\]",
        ),
        ({"chunk_steps": -1}, ValueError, "fit: chunk_steps: expected an int >= 1, received -1"),
        (
            {"on_nonfinite": "ignore"},
            ValueError,
            "fit: on_nonfinite: expected one of 'raise', 'continue', received 'ignore'",
        ),
        (
            {"batch_size": 16, "key": "k"},
            ValueError,
            "fit: key: expected an int >= 0 or a single jax.random key, received 'k'",
        ),
    ],
)
def test_bad_training_options_raise_naming_the_option(kwargs, error, message):
    with pytest.raises(error, match=message):
        _fit(small_mlp(nnx.Rngs(0)), **kwargs)


def test_bad_data_raise_naming_the_problem():
    model = small_mlp(nnx.Rngs(0))
    with pytest.raises(
        ValueError,
        match=r"fit: x and y: expected the same positive number of examples along axis 0, received x of shape \(64, 2\) and y of shape \(10,\)",
    ):
        train.fit(model, QUAD.x, QUAD.y[:10], optimizer=ADAM, loss=BCE, steps=1)
    with pytest.raises(
        TypeError, match="fit: x: expected a floating-point array, received dtype int32"
    ):
        train.fit(model, QUAD.y[:, None], QUAD.y, optimizer=ADAM, loss=BCE, steps=1)
    with pytest.raises(TypeError, match="fit: y: expected integer class labels"):
        train.fit(model, QUAD.x, QUAD.y * 1.0, optimizer=ADAM, loss="softmax_cross_entropy",
                  steps=1)  # fmt: skip
    two_outputs = MLP(2, [8], 2, rngs=nnx.Rngs(0))
    with pytest.raises(
        ValueError,
        match=r"logits \(batch, 1\) or \(batch,\) and 0/1 labels \(batch,\), received logits \(64, 2\)",
    ):
        train.fit(two_outputs, QUAD.x, QUAD.y, optimizer=ADAM, loss=BCE, steps=1)
    with pytest.raises(TypeError, match=r"fit: model: expected an nnx\.Module, received function"):
        train.fit(lambda x: x, QUAD.x, QUAD.y, optimizer=ADAM, loss=BCE, steps=1)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: train.init_ensemble(small_mlp, 0), ValueError, "init_ensemble: seeds: expected an int >= 1, received 0"),
        (lambda: train.init_ensemble(small_mlp, [1, -2]), ValueError, "ints >= 0"),
        (lambda: train.init_ensemble(small_mlp, 2, learning_rates=[0.1, 0.0]), ValueError,
         "init_ensemble: learning_rates: expected a non-empty sequence of finite numbers > 0"),
        (lambda: train.init_ensemble(small_mlp, 2, init_scales=[]), ValueError,
         "init_ensemble: init_scales: expected a non-empty sequence"),
        (lambda: train.init_ensemble(3, 2), TypeError, "init_ensemble: make_model: expected a callable rngs -> module, received 3"),
        (lambda: train.init_ensemble(lambda rngs: 3, 2), TypeError, "make_model: expected a callable returning an nnx.Module, received one returning an array"),
        (lambda: train.fit_ensemble(small_mlp, QUAD.x, QUAD.y, optimizer=ADAM, loss=BCE, steps=1),
         TypeError, "fit_ensemble: ensemble: expected an Ensemble"),
        (lambda: train.fit_ensemble(train.init_ensemble(small_mlp, 2, learning_rates=[0.1]),
                                    QUAD.x, QUAD.y, optimizer=ADAM, loss=BCE, steps=1),
         TypeError, "fit_ensemble: optimizer: expected a factory taking learning_rate"),
        (lambda: train.fit_ensemble(train.init_ensemble(small_mlp, 2), QUAD.x, QUAD.y,
                                    optimizer=optax.adam, loss=BCE, steps=1),
         TypeError, "optax.GradientTransformation"),
        (lambda: train.save("/tmp/x", 3), TypeError, "nnx.Module or an Ensemble"),
        (lambda: train.load("/nonexistent/ckpt", small_mlp(nnx.Rngs(0))), FileNotFoundError,
         "load: directory: expected a folder written by save"),
    ],
)  # fmt: skip
def test_bad_ensemble_and_checkpoint_arguments_raise(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_half_precision_outputs_get_their_loss_in_float32():
    model = MLP(2, [8], 1, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    history = train.fit(model, QUAD.x, QUAD.y, optimizer=SGD, loss=BCE, steps=3, progress=False)
    assert model(QUAD.x).dtype == jnp.bfloat16
    assert {v.dtype for v in jax.tree.leaves(nnx.state(model, nnx.Param))} == {jnp.dtype("float32")}
    value = train.evaluate(model, QUAD.x, QUAD.y, loss=BCE).loss

    def on_bfloat16_grid(v):
        return float(jnp.asarray(v, jnp.bfloat16).astype(jnp.float32)) == float(v)

    # a loss computed in bfloat16 would be a bfloat16 number; these carry float32 precision
    assert not on_bfloat16_grid(value)
    assert not all(on_bfloat16_grid(v) for v in history.loss)


def test_losses_are_public_and_report_accuracy_where_it_means_something():
    logits = jnp.array([[3.0, -1.0], [0.0, 2.0]])
    value, accuracy = train.losses.resolve("softmax_cross_entropy")(logits, jnp.array([0, 0]))
    expected = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.array([0, 0])).mean()
    assert float(value) == pytest.approx(float(expected)) and float(accuracy) == 0.5
    value, accuracy = train.losses.resolve("mse")(jnp.ones((2, 1)), jnp.zeros(2))
    assert float(value) == 1.0 and np.isnan(accuracy)
    value, _ = train.losses.resolve(lambda o, y: jnp.sum(o))(jnp.ones((2, 1)), jnp.zeros(2))
    assert float(value) == 2.0
    assert train.losses.has_accuracy("sigmoid_binary_cross_entropy")
    assert not train.losses.has_accuracy("mse")
    half = train.losses.resolve("mse")(jnp.ones((2, 1), jnp.bfloat16), jnp.zeros(2))[0]
    assert half.dtype == jnp.float32  # half-precision outputs get a float32 loss


def test_histories_join_and_select_members():
    h = train.History(step=np.arange(2), loss=np.ones((3, 2)), accuracy=None,
                      grad_norm=np.zeros((3, 2)), layer_step=np.array([1]),
                      layer_grad_norms={"output": np.ones((3, 1))})  # fmt: skip
    joined = train.History.join([h, h], [0, 10])
    assert joined.step.tolist() == [0, 1, 10, 11] and joined.loss.shape == (3, 4)
    assert joined.layer_step.tolist() == [1, 11]
    picked = joined.select(np.array([0, 2]))
    assert picked.loss.shape == (2, 4) and picked.layer_grad_norms["output"].shape == (2, 2)
