"""Which input sizes a model accepts: the valid-size analysis behind ``shapecheck sizes``.

:func:`analyse_sizes` returns, for each symbolic input dim, the set of sizes at which no runtime fails —
as residue classes past a threshold plus finitely many exceptions, *proven* for every size when the
periodic argument of :mod:`shapecheck.sizes._analysis` applies, or searched over a range when it does
not. :func:`size_constraint_findings` turns an analysis into findings for ``shapecheck check``, and
:func:`output_padding_options` gives the valid sets a transposed conv's other ``output_padding`` values
would have (for the rule that recognises an ``output_padding`` baked in for one export size), and
:func:`widen_suggestions` says what would make more sizes run: a constant ``output_padding`` fix, or the
dynamic alternatives (padding the input to the next valid size, ``output_size=``, crop/pad at the join).
"""

from __future__ import annotations

from shapecheck.sizes._analysis import (
    DEFAULT_RANGE,
    FailingClass,
    FailureGroup,
    NormalForm,
    SizeAnalysis,
    SymbolSizes,
    ValidSet,
    Verdict,
    WorkBudget,
    WorkBudgetExceeded,
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
from shapecheck.sizes._widen import (
    Need,
    PaddingChange,
    Suggestion,
    Widening,
    need_text,
    pad_formula,
    widen_suggestions,
)

__all__ = [
    "DEFAULT_RANGE",
    "FailingClass",
    "FailureGroup",
    "Need",
    "NormalForm",
    "OutputPaddingOption",
    "PaddingChange",
    "SizeAnalysis",
    "Suggestion",
    "SymbolSizes",
    "ValidSet",
    "Verdict",
    "Widening",
    "WorkBudget",
    "WorkBudgetExceeded",
    "analyse_sizes",
    "describe_set",
    "need_text",
    "output_padding_options",
    "pad_formula",
    "ranges_text",
    "size_constraint_findings",
    "valid_sets_with",
    "widen_suggestions",
]
