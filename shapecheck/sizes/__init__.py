"""Which input sizes a model accepts: the valid-size analysis behind ``shapecheck sizes``.

:func:`analyse_sizes` returns, for each symbolic input dim, the set of sizes at which no runtime fails —
as residue classes past a threshold plus finitely many exceptions, *proven* for every size when the
periodic argument of :mod:`shapecheck.sizes._analysis` applies, or searched over a range when it does
not. :func:`size_constraint_findings` turns an analysis into findings for ``shapecheck check``, and
:func:`output_padding_options` gives the valid sets a transposed conv's other ``output_padding`` values
would have (for the rule that recognises an ``output_padding`` baked in for one export size).
"""

from __future__ import annotations

from shapecheck.sizes._analysis import (
    DEFAULT_RANGE,
    FailureGroup,
    SizeAnalysis,
    SymbolSizes,
    ValidSet,
    Verdict,
    analyse_sizes,
    describe_set,
    ranges_text,
)
from shapecheck.sizes._findings import (
    OutputPaddingOption,
    output_padding_options,
    size_constraint_findings,
    valid_sets_with,
)

__all__ = [
    "DEFAULT_RANGE",
    "FailureGroup",
    "OutputPaddingOption",
    "SizeAnalysis",
    "SymbolSizes",
    "ValidSet",
    "Verdict",
    "analyse_sizes",
    "describe_set",
    "output_padding_options",
    "ranges_text",
    "size_constraint_findings",
    "valid_sets_with",
]
