"""The input sizes a model accepts, for a model checked with its spatial dims left symbolic."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shapecheck.findings import Finding, Severity
from shapecheck.rules import rule
from shapecheck.rules.analysis import Analysis

#: A linter call must stay fast: where no period proves the valid set, ``check`` searches only this
#: range (``shapecheck sizes --range`` searches further), within this many propagations per symbol.
CHECK_SEARCH_RANGE = (1, 256)
CHECK_BUDGET = 2_000
#: Node evaluations all size analyses of one ``check`` call may spend together (SC206 and SC502): about
#: one or two seconds. The fixtures need at most 67,000; a hostile model whose sizes never settle would
#: otherwise spend its per-symbol budget on every symbol and every transposed conv (tens of seconds).
CHECK_WORK = 100_000


@rule("SC206", "valid-input-sizes", severity=Severity.INFO,
      summary="With symbolic dims and no --dim: the input sizes the model accepts (an error when none).")
def valid_input_sizes(analysis: Analysis) -> Iterable[Finding]:
    """Reports, for each symbolic spatial dim left unbound, the exact set of sizes for which every join
    agrees and every size stays positive — as residue classes with a minimum — and where the other
    sizes fail. It is what `shapecheck sizes` computes, as a finding.

    ## What it does
    Runs the size analysis (see `shapecheck sizes`): one info finding per symbol whose valid set is
    restricted ("valid only for H ≡ 0 (mod 8), from 8"), an error when no size at all is valid. In
    `check` the analysis shares a bound with SC502 (100,000 node evaluations, about a second, the same
    on every machine); a model that needs more gets an info finding saying its sizes were not analysed,
    and `shapecheck sizes` analyses it without the bound.

    ## Why is this bad?
    A U-Net that only accepts multiples of 32 fails in production on the first odd-sized image; the
    constraint is rarely written down anywhere.

    ## Example
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, H, H]}
    layers:
      - {name: enc, op: conv, input: x, out_channels: 4, kernel_size: 3, padding: 1}
      - {name: pool, op: maxpool, kernel_size: 2}
      - {name: up, op: conv_transpose, out_channels: 4, kernel_size: 2, stride: 2}
      - {name: cat, op: concat, inputs: [up, enc], axis: 1}
    ```

    ## Use instead
    ```yaml
    shapecheck: 1
    inputs: {x: [1, 1, H, H]}
    layers:
      - {name: enc, op: conv, input: x, out_channels: 4, kernel_size: 3, padding: 1}
      - {name: head, op: conv, out_channels: 2, kernel_size: 1}
    ```
    """
    unbound = [s for s in analysis.graph.symbols() if s not in analysis.result.bindings]
    if not unbound:
        return
    from shapecheck.sizes import WorkBudgetExceeded, size_constraint_findings

    try:
        sizes = model_sizes(analysis)
    except WorkBudgetExceeded as error:
        yield analysis.finding("SC206", None, f"the valid input sizes of {', '.join(unbound)} were not analysed: "
                               f"{error} (check's bound); `shapecheck sizes` analyses them without it")
        return
    yield from size_constraint_findings(sizes, code="SC206", name="valid-input-sizes")


def model_sizes(analysis: Analysis, *, free: bool = False) -> Any:
    """The size analysis of the checked model, computed once per check and shared by the rules that need
    it: at the checked bindings (SC206), or with every symbol free (``free``, SC502). Raises
    ``WorkBudgetExceeded`` (every time it is asked) once the check's :func:`check_work` is spent."""
    from shapecheck.sizes import WorkBudgetExceeded, analyse_sizes

    key = "sizes-free" if free else "sizes"
    if key not in analysis.cache:
        try:
            analysis.cache[key] = analyse_sizes(
                analysis.graph, dims=None if free else analysis.result.bindings,
                input_shapes=analysis.result.input_shapes or None, search_range=CHECK_SEARCH_RANGE,
                budget=CHECK_BUDGET, work=check_work(analysis))
        except WorkBudgetExceeded as error:  # remembered, so that a second rule does not redo the work
            analysis.cache[key] = error
    cached = analysis.cache[key]
    if isinstance(cached, Exception):
        raise cached
    return cached


def check_work(analysis: Analysis) -> Any:
    """The :class:`~shapecheck.sizes.WorkBudget` shared by every size analysis of this check."""
    from shapecheck.sizes import WorkBudget

    return analysis.cache.setdefault("sizes-work", WorkBudget(CHECK_WORK))
