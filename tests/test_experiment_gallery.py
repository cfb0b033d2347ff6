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
