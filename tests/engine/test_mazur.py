"""The mazur demo reproduces Matt Mazur's published worked example digit for digit."""

from __future__ import annotations

import pytest
from nnstep.engine import Session, load_demo


@pytest.fixture
def iteration() -> dict[tuple[str, int | None], object]:
    session = Session(load_demo("mazur"))
    records = [session.step() for _ in range(session.ops_per_iteration)]
    return {(r.op, r.layer): r for r in records}


def test_forward_pass_matches_the_published_outputs(iteration) -> None:
    # Mazur: out_h1 = 0.593269992, out_h2 = 0.596884378, out_o1 = 0.75136507, out_o2 = 0.772928465
    a1 = iteration[("activation", 1)].tensors["a"][0]
    a2 = iteration[("activation", 2)].tensors["a"][0]
    assert a1 == pytest.approx([0.593269992, 0.596884378], abs=1e-9)
    assert a2 == pytest.approx([0.75136507, 0.772928465], abs=1e-8)


def test_first_loss_is_0_298371109(iteration) -> None:
    assert iteration[("loss", None)].loss == pytest.approx(0.298371109, abs=1e-9)


def test_updated_weights_match_the_published_ones(iteration) -> None:
    W1 = iteration[("update", 1)].tensors["W"]
    W2 = iteration[("update", 2)].tensors["W"]
    # w1 → 0.149780716, w5 → 0.35891648, w6 → 0.408666186, w8 → 0.561370121
    assert W1[0, 0] == pytest.approx(0.149780716, abs=1e-9)
    assert W2[0, 0] == pytest.approx(0.35891648, abs=1e-8)
    assert W2[0, 1] == pytest.approx(0.408666186, abs=1e-9)
    assert W2[1, 1] == pytest.approx(0.561370121, abs=1e-9)


def test_ops_come_in_the_documented_order(iteration) -> None:
    session = Session(load_demo("mazur"))
    ops = [(r.stage, r.layer, r.op) for r in (session.step() for _ in range(11))]
    assert ops == [
        ("forward", 1, "linear"), ("forward", 1, "activation"),
        ("forward", 2, "linear"), ("forward", 2, "activation"),
        ("loss", None, "loss"),
        ("backward", 2, "delta"), ("backward", 2, "grad"),
        ("backward", 1, "delta"), ("backward", 1, "grad"),
        ("update", 1, "update"), ("update", 2, "update"),
    ]


def test_equations_are_in_the_tutorial_notation(iteration) -> None:
    assert iteration[("linear", 1)].equation == "z⁽¹⁾ = W⁽¹⁾x + b⁽¹⁾"
    assert iteration[("linear", 2)].equation == "z⁽²⁾ = W⁽²⁾a⁽¹⁾ + b⁽²⁾"
    assert iteration[("delta", 1)].equation == "δ⁽¹⁾ = (W⁽²⁾)ᵀδ⁽²⁾ ∘ σ′(z⁽¹⁾)"
    assert iteration[("update", 2)].equation.startswith("W⁽²⁾ := W⁽²⁾ − 0.5·∂L/∂W⁽²⁾")
