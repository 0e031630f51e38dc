"""Figures redrawn from a case's numbers alone (``registry.redraw``) equal the ones the run wrote."""
from __future__ import annotations

import io
import json

import pytest

from workbench.solvers.core.checks import ParameterError
from workbench.validation.registry import redraw, run_case


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


@pytest.mark.parametrize("cid", ["diffusion-joint-region", "multilayer-dt-bound"])
def test_redraw_from_results_json_is_byte_identical(tmp_path, cid):
    res = run_case(cid, tmp_path, quick=True).to_dict()
    numbers = json.loads(json.dumps(res["numbers"]))          # what results.json gives back
    figs = redraw(cid, numbers)
    assert figs and [name for name, _, _ in figs] == res["figures"]
    for name, fig, caption in figs:
        assert caption == res["captions"][name]
        assert _png(fig) == (tmp_path / name).read_bytes()


def test_redraw_unknown_case_is_a_parameter_error():
    with pytest.raises(ParameterError, match="case"):
        redraw("no-such-case", {})


def test_cases_without_figures_redraw_nothing():
    assert redraw("uc-example1-fact1", {}) == []
