"""The activation gallery draws every elementwise activation and lists every one's conventions."""

from actlab import activations as A
from actlab.experiments import gallery


def test_every_elementwise_activation_is_drawn_in_a_group():
    drawn = {name for names in gallery.GROUPS.values() for name in names} | {"sbaf"}
    assert drawn >= {n for n in A.names() if A.spec(n).elementwise and n != "identity"}


def test_the_conventions_table_has_a_row_per_activation():
    rows = gallery.conventions()
    assert [r["activation"] for r in rows] == list(A.names())
    hard_silu = next(r for r in rows if r["activation"] == "hard_silu")
    assert hard_silu["kinks"] == "-3, 3" and "grad_at_kinks" in hard_silu["derivative at kinks"]


def test_accuracy_columns_give_actlab_and_jax_nn_worst_ulps_over_every_half_input():
    columns = gallery.accuracy_columns(("float16",))
    assert set(columns) == {n for n in A.names() if A.spec(n).elementwise}
    assert columns["relu"] == {
        "float16 max ulp (actlab)": "0 / 0",
        "float16 max ulp (jax.nn)": "0 / 0",
    }
    assert columns["prelu"]["float16 max ulp (jax.nn)"] == "-"
    worst_grad = lambda cell: float(cell.split(" / ")[1])  # noqa: E731
    assert worst_grad(columns["sigmoid"]["float16 max ulp (actlab)"]) <= 1
    assert worst_grad(columns["sigmoid"]["float16 max ulp (jax.nn)"]) > 1000  # s (1 - s) cancels
