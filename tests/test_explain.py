"""`nnstep explain` handouts: every printed number is the engine's, and the notebook proves itself.

If these fail, a teacher would hand out numbers nnstep did not compute, or
a notebook whose asserts fail in class.
"""

from __future__ import annotations

import json
import re

import pytest
from nnstep.engine import demo_names, load_demo
from nnstep.engine.optim import OPTIMIZERS
from nnstep.tui.explain import handout, latex

from tests.conftest import make_config

# Matt Mazur's post, "A Step by Step Backpropagation Example": value → decimals printed.
MAZUR = {"0.3775": 4, "0.593269992": 9, "0.75136507": 8, "0.298371109": 9, "0.082167041": 9, "0.35891648": 8,
         "0.149780716": 9}


def test_the_mazur_handout_holds_every_number_of_the_post() -> None:
    text = handout(load_demo("mazur"), 1, "md")
    printed = [float(n) for n in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]
    for value, decimals in MAZUR.items():
        assert any(round(p, decimals) == float(value) for p in printed), f"{value} is not in the handout"


def _run_notebook(text: str) -> str:
    """Execute the notebook's code cells as one plain Python script; return what it printed."""
    import contextlib
    import io

    notebook = json.loads(text)
    assert notebook["nbformat"] == 4
    source = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, "handout.ipynb", "exec"), {})  # noqa: S102 - our own generated notebook, in a test
    return out.getvalue()


@pytest.mark.parametrize("demo", demo_names())
def test_the_notebook_of_every_demo_recomputes_every_number(demo: str) -> None:
    config = load_demo(demo)
    printed = _run_notebook(handout(config, 2, "ipynb"))
    assert printed.count("✓") >= len(config.schedule)


def _every_part(kind: str, **options: object):
    return make_config(
        model={"sizes": [2, 4, 3, 2], "activations": ["leaky_relu", "tanh", "identity"], "dropout": [0.5, 0.25, 0.0],
               "freeze": ["b1"], "negative_slope": 0.2},
        loss={"kind": "cross_entropy", "l1": 0.001},
        optimizer={"kind": kind, "lr": 0.01, **options},
        data={"x": [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5], [-0.7, 0.9], [0.0, -1.2]], "y": [0, 1, 1, 0, 1],
              "batch_size": 2},
    )


@pytest.mark.parametrize("kind, options", [
    ("sgd", {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("adam", {"amsgrad": True, "weight_decay": 0.01}),
    ("adamw", {}),
    ("rmsprop", {"centered": True, "momentum": 0.5}),
])
def test_the_notebook_proves_every_part(kind: str, options: dict) -> None:
    assert kind in OPTIMIZERS
    config = _every_part(kind, **options)
    printed = _run_notebook(handout(config, 3, "ipynb"))
    assert "W⁽³⁾ after ✓" in printed and "ã⁽¹⁾ ✓" in printed and "b⁽¹⁾ after" not in printed  # b1 is frozen


def test_bce_with_logits_and_bce_notebooks_hold() -> None:
    for loss, act in (("bce_with_logits", "identity"), ("bce", "sigmoid")):
        config = make_config(model={"sizes": [2, 3, 1], "activations": ["tanh", act]}, loss={"kind": loss},
                             optimizer={"kind": "rmsprop", "lr": 0.01},
                             data={"x": [[0.1, 0.2], [0.3, -0.4], [1.0, 0.5]], "y": [[0.0], [1.0], [1.0]]})
        _run_notebook(handout(config, 2, "ipynb"))


def test_latex_of_the_notation() -> None:
    assert latex("z⁽¹²⁾ = W⁽¹²⁾a⁽¹¹⁾ + b⁽¹²⁾") == "z^{(12)} = W^{(12)}a^{(11)} + b^{(12)}"
    assert latex("W⁽²⁾₁₁ := 0.4 − 0.5·0.08217") == r"W^{(2)}_{11} \leftarrow  0.4 - 0.5\cdot 0.08217"


def test_the_tex_handout_is_a_whole_document() -> None:
    text = handout(load_demo("mazur"), 1, "tex")
    assert text.startswith(r"\documentclass") and text.rstrip().endswith(r"\end{document}")
    assert text.count(r"\subsection*") == 11
    outside_math = re.sub(r"\$[^$]*\$|\\\[.*?\\\]", "", text)
    assert not re.search(r"[^\x00-\x7f]", outside_math), "a Unicode symbol outside math would not compile"
