"""Fixes for a join whose branches arrive with different sizes — each one verified before it is offered.

Candidates, most useful first: ``output_padding`` on the transposed conv that did not restore the size
(solved with :func:`shapecheck.arith.output_padding_for`), the ConvTranspose ``output_shape`` attribute,
a change of ``ceil_mode`` or end padding on the layer whose floor dropped a row, and an input size for
which the model works. A candidate is kept only if re-propagating the patched graph removes the
mismatch without adding a problem; then the affected branch is executed with the NumPy kernel before
and after the patch (``confirmed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shapecheck import arith
from shapecheck.findings import Fix
from shapecheck.graph import Node
from shapecheck.propagate import Propagation, propagate
from shapecheck.rules.analysis import DOWNSAMPLERS, Analysis, Branch
from shapecheck.symbolic import Expr
from shapecheck.verify import Patch, execute_branch, failing_facts, repropagate

__all__ = ["JoinRepair", "axis_symbols", "describe_residues", "repair_join", "stride_period", "valid_residues"]

#: Largest period (product of strides) over which ``holds_for`` is worked out exactly.
MAX_PERIOD = 64


@dataclass(frozen=True)
class JoinRepair:
    """The verified fixes of one failing join, and the node each one changes."""

    join: str
    fixes: tuple[Fix, ...]
    upsampler: str | None


def _spatial_sizes(result: Propagation, tensor: str) -> tuple[Any, ...]:
    shape = result.shape(tensor) or ()
    return tuple(shape[2:])


def _mismatch_keys(analysis: Analysis, join: str) -> set[tuple[str, str, Any]]:
    return {key for key in failing_facts(analysis.result) if key[0] == join}


def stride_period(analysis: Analysis, spatial_axis: int = 0) -> int:
    """Product of the strides of every downsampler on one spatial axis: the sizes a model accepts repeat
    with this period (see the size analysis), so one period of trial sizes tells the whole story."""
    strides = 1
    for node in analysis.graph.nodes.values():
        if node.op in DOWNSAMPLERS:
            node_strides = analysis.details(node.name).get("strides", ())
            if 0 <= spatial_axis < len(node_strides):  # a batch/channel join has no stride period
                strides *= max(1, int(node_strides[spatial_axis]))
    return strides


def axis_symbols(analysis: Analysis, axes: Sequence[int]) -> list[str]:
    names: list[str] = []
    for spec in analysis.graph.inputs.values():
        for axis in axes:
            if spec.shape and axis < len(spec.shape) and isinstance(spec.shape[axis], Expr):
                names += sorted(spec.shape[axis].symbols())
    return list(dict.fromkeys(names))


def valid_residues(
    analysis: Analysis,
    patches: Sequence[Patch],
    symbols: Sequence[str],
    period: int,
    base: int,
    *,
    join: str | None = None,
) -> list[int]:
    """Residues ``r`` (mod ``period``) of the sizes in ``base .. base+period-1`` at which the patched model
    has no failing fact (at ``join`` only, when given). All ``symbols`` take the same trial size."""
    from shapecheck.verify import apply_patches

    result = analysis.result
    patched = apply_patches(analysis.graph, patches) if patches else analysis.graph
    good = []
    for size in range(base, base + period):
        trial = propagate(patched, dims={**result.bindings, **dict.fromkeys(symbols, size)})
        failing = failing_facts(trial)
        if not any(key[0] == join for key in failing) if join else not failing:
            good.append(size % period)
    return sorted(good)


def describe_residues(name: str, good: Sequence[int], period: int, base: int) -> str:
    """``H ≡ 1, 3 (mod 4)``, or "every H from 64 on" when all residues are good."""
    if len(good) == period:
        return f"every {name} from {base} on (checked over one period of {period})"
    return f"{name} ≡ {', '.join(map(str, good))} (mod {period})"


def holds_for(analysis: Analysis, patches: Sequence[Patch], axes: Sequence[int], join: str) -> str:
    """The input sizes for which the patched ``join`` works: residues modulo the model's stride product,
    worked out by propagating one period of sizes; or just the checked size when that is all we know."""
    result = analysis.result
    symbols = [s for s in axis_symbols(analysis, axes) if s in result.bindings]
    checked = ", ".join(f"{s}={result.bindings[s]}" for s in symbols) or "the checked input shape"
    period = stride_period(analysis, min(axes) - 2)
    if not symbols or period > MAX_PERIOD or period < 2:
        return f"{checked} (the checked size)"
    base = max(result.bindings[s] for s in symbols)
    good = valid_residues(analysis, patches, symbols, period, base, join=join)
    if not good:
        return f"{checked} only"
    name = "=".join(symbols)
    text = describe_residues(name, good, period, base)
    return text if len(good) == period else f"{text}, e.g. {checked}"


def _confirm(analysis: Analysis, branch: Branch, before: Propagation, after: Propagation,
             target: tuple[Any, ...]) -> tuple[bool, str]:
    """Execute the branch before and after the patch: whether the kernel reached ``target``, and — when
    the memory or time budget stopped the execution — why (the fix's note)."""
    if not analysis.confirm:
        return False, ""
    first = execute_branch(before, branch.nodes, memory_budget=analysis.memory_budget)
    if first.disagreements:
        analysis.disagreements.extend(first.disagreements)
    if not first.confirmed:
        return False, first.skipped
    patched_nodes = [after.graph.nodes[node.name] for node in branch.nodes]
    second = execute_branch(after, patched_nodes, memory_budget=analysis.memory_budget)
    if second.disagreements:
        analysis.disagreements.extend(second.disagreements)
    if not second.confirmed:
        return False, second.skipped
    reached = second.sizes.get(branch.tensor)
    return reached is None or tuple(reached) == tuple(target), ""


def _candidates(analysis: Analysis, up: Node, short_by: dict[int, int]) -> list[tuple[str, Patch, bool]]:
    """(title, patch, safe) candidates for the upsampler ``up`` and the layers before it."""
    details = analysis.details(up.name)
    out: list[tuple[str, Patch, bool]] = []
    if up.op == "ConvTranspose" and "strides" in details:
        rank = len(details["strides"])
        current = tuple(details.get("output_padding", (0,) * rank))
        wanted = list(current)
        legal = True
        for axis, delta in short_by.items():
            wanted[axis] = current[axis] + delta
            limit = arith.output_padding_limit(details["strides"][axis], details["dilations"][axis],
                                               runtime="onnxruntime")
            legal &= 0 <= wanted[axis] < limit
        if legal and tuple(wanted) != current:
            out.append((f"set output_padding of {up.name!r} to {list(wanted)}",
                        Patch(up.name, {"output_padding": tuple(wanted)}), True))
    return out


def repair_join(analysis: Analysis, join: str, tensors: Sequence[str]) -> JoinRepair:
    """Verified fixes for the size mismatch at ``join`` between ``tensors``."""
    cache = analysis.cache.setdefault("repairs", {})
    if join in cache:
        return cache[join]
    result = analysis.result
    _, branches = analysis.branches(tensors)
    sizes = {b.tensor: _spatial_sizes(result, b.tensor) for b in branches}
    with_up = [b for b in branches if analysis.upsamplers(b)]
    reference = next((b for b in branches if not analysis.upsamplers(b)), branches[0])
    gone = _mismatch_keys(analysis, join)
    fixes: list[Fix] = []
    upsampler = None
    for branch in with_up:
        target = sizes[reference.tensor]
        here = sizes[branch.tensor]
        if len(here) != len(target) or not all(isinstance(d, int) for d in (*here, *target)):
            continue
        short_by = {a: target[a] - here[a] for a in range(len(here)) if target[a] != here[a]}
        if not short_by:
            continue
        up = analysis.upsamplers(branch)[-1]
        upsampler = up.name
        axes = [a + 2 for a in short_by]
        candidates = _candidates(analysis, up, short_by)
        if up.op == "ConvTranspose" and analysis.graph.format == "onnx":
            output_shape = tuple(int(t) for t in target)
            candidates.append((f"set output_shape of {up.name!r} to {list(output_shape)}",
                               Patch(up.name, {"output_shape": output_shape}), True))
        candidates += _encoder_candidates(analysis, branch, short_by)
        for title, patch, safe in candidates:
            after = repropagate(result, [patch], gone)
            if after is None:
                continue
            confirmed, note = _confirm(analysis, branch, result, after, target)
            value = patch.attrs[next(iter(patch.attrs))]
            fixes.append(Fix(title=title, node=patch.node, attribute=next(iter(patch.attrs)),
                             value=list(value) if isinstance(value, tuple) else value,
                             holds_for=holds_for(analysis, [patch], axes, join), safe=safe, confirmed=confirmed,
                             note=note))
    fixes += _crop_fixes(analysis, join, sizes, gone)
    fixes += _input_size_fixes(analysis, join, tensors, gone)
    repair = JoinRepair(join, tuple(fixes), upsampler)
    cache[join] = repair
    return repair


def _crop_fixes(analysis: Analysis, join: str, sizes: dict[str, tuple[Any, ...]],
                gone: set[tuple[str, str, Any]]) -> list[Fix]:
    """Crop the larger input of the join to the smaller one (the original U-Net's crop-and-copy).

    Unsafe: the cropped rows are data the model then ignores. Verified by re-propagating a copy of the
    graph with a Slice inserted before the join, and by executing that Slice on a probe.
    """
    from shapecheck.verify import insert_crop

    known = {t: s for t, s in sizes.items() if s and all(isinstance(d, int) for d in s)}
    if len(known) != len(sizes) or len({len(s) for s in known.values()}) != 1:
        return []
    smallest = tuple(min(s[a] for s in known.values()) for a in range(len(next(iter(known.values())))))
    fixes = []
    for tensor, here in known.items():
        if here == smallest or any(h < m for h, m in zip(here, smallest, strict=True)):
            continue
        patched, crop = insert_crop(analysis.graph, join, tensor, smallest)
        after = propagate(patched, dims=analysis.result.bindings, input_shapes=analysis.result.input_shapes)
        now = failing_facts(after)
        if now & gone or not now <= failing_facts(analysis.result):
            continue
        confirmed = False
        if analysis.confirm:
            run = execute_branch(after, [patched.nodes[crop]], memory_budget=analysis.memory_budget)
            confirmed = run.confirmed and tuple(run.sizes.get(f"{crop}:output", ())) == smallest
        producer = analysis.graph.producer(tensor)
        label = repr(producer.name) if producer else f"input {tensor!r}"
        dropped = ", ".join(f"{h - m} on axis {a + 2}" for a, (h, m) in enumerate(zip(here, smallest, strict=True))
                            if h != m)
        fixes.append(Fix(title=f"crop the output of {label} to {list(smallest)} before {join!r} (drops {dropped})",
                         node=join, attribute=None, value={"tensor": tensor, "sizes": list(smallest)},
                         holds_for=f"the checked size ({_checked(analysis)}); a crop computed from the shapes at "
                                   "run time holds for every size", safe=False, confirmed=confirmed, kind="crop"))
    return fixes


def _encoder_candidates(analysis: Analysis, branch: Branch, short_by: dict[int, int]) -> list[
    tuple[str, Patch, bool]
]:
    """Changes on the layer whose floor dropped the row: ceil_mode for a pool, more end padding."""
    out = []
    for axis in short_by:
        for node, remainder in analysis.floor_losses(branch, axis):
            details = analysis.details(node.name)
            if node.op in ("MaxPool", "AveragePool") and not details.get("ceil_mode"):
                out.append((f"set ceil_mode of {node.name!r} to 1", Patch(node.name, {"ceil_mode": 1}), True))
            pads = details.get("pads")
            if pads and all(p is not None for p in pads) and isinstance(remainder, int):
                stride = details["strides"][axis]
                flat = [b for b, _ in pads] + [e for _, e in pads]
                flat[len(pads) + axis] += stride - remainder
                out.append((f"set pads of {node.name!r} to {flat}", Patch(node.name, {"pads": tuple(flat)}),
                            True))
            break
    seen, unique = set(), []
    for title, patch, safe in out:
        if title not in seen:
            seen.add(title)
            unique.append((title, patch, safe))
    return unique


def _branches_meet(analysis: Analysis, trial: Propagation, tensors: Sequence[str]) -> tuple[bool, str]:
    """Execute every branch into the join at the trial size: whether the kernel's sizes meet, and why
    execution was skipped if the budget stopped it."""
    if not analysis.confirm:
        return False, ""
    trial_analysis = Analysis(trial, confirm=True, memory_budget=analysis.memory_budget)
    _, branches = trial_analysis.branches(tensors)
    reached = []
    for branch in branches:
        run = execute_branch(trial, branch.nodes, memory_budget=analysis.memory_budget)
        analysis.disagreements.extend(run.disagreements)
        if not run.confirmed:
            return False, run.skipped
        reached.append(run.sizes.get(branch.tensor) or _spatial_sizes(trial, branch.tensor))
    return len({tuple(r) for r in reached}) == 1, ""


def _input_size_fixes(analysis: Analysis, join: str, tensors: Sequence[str],
                      gone: set[tuple[str, str, Any]]) -> list[Fix]:
    """The nearest input sizes below and above the checked one at which the whole model is clean."""
    result = analysis.result
    axes = sorted({f.data.get("axis") for f in result.facts if f.node == join and "axis" in f.data})
    symbols = [s for s in axis_symbols(analysis, axes) if s in result.bindings]
    if not symbols:
        return []
    base = result.bindings[symbols[0]]
    limit = min(4 * max(stride_period(analysis, axes[0] - 2 if axes else 0), 2), 256)
    found: dict[str, int] = {}
    confirmed: dict[str, tuple[bool, str]] = {}
    for step in range(1, limit + 1):
        for label, size in (("below", base - step), ("above", base + step)):
            if label in found or size < 1:
                continue
            trial = propagate(analysis.graph, dims={**result.bindings, **dict.fromkeys(symbols, size)},
                              input_shapes=result.input_shapes)
            if not failing_facts(trial):
                found[label] = size
                confirmed[label] = _branches_meet(analysis, trial, tensors)
        if len(found) == 2:
            break
    fixes = []
    name = "=".join(symbols)
    for label in ("below", "above"):
        if label in found:
            size = found[label]
            how = "crop" if label == "below" else "pad"
            fixes.append(Fix(title=f"{how} the input to {name}={size}, the nearest valid size {label}",
                             node=None, attribute=None, value={s: size for s in symbols},
                             holds_for=f"{name}={size}", safe=label == "above", confirmed=confirmed[label][0],
                             kind="input-size", note=confirmed[label][1]))
    return fixes


@dataclass(frozen=True)
class MirrorRepair:
    """A transposed conv in an encoder/decoder without skips that misses the size before the
    downsampling it mirrors, and the verified output_padding fix."""

    upsampler: str
    downsampler: str
    produced: tuple[Any, ...]
    wanted: tuple[Any, ...]
    fix: Fix


def _strided(analysis: Analysis, node: Node) -> bool:
    return any(s > 1 for s in analysis.details(node.name).get("strides", ()))


def mirror_repairs(analysis: Analysis) -> list[MirrorRepair]:
    """Pair the i-th strided ConvTranspose with the i-th strided downsampler from the end (autoencoders
    mirror their encoder) and solve ``output_padding`` for each pair that misses its size, when the model's
    output does not line up with its input. Each fix is verified by re-propagation and by executing the
    transposed conv with the kernel."""
    from shapecheck.arith import output_padding_for

    graph, result = analysis.graph, analysis.result
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        return []
    source, target = result.shape(next(iter(graph.inputs))), result.shape(graph.outputs[0])
    if not source or not target or len(source) != len(target) or source[2:] == target[2:]:
        return []
    order = graph.topological_order()
    downs = [n for n in order if n.op in DOWNSAMPLERS and _strided(analysis, n)]
    ups = [n for n in order if n.op == "ConvTranspose" and _strided(analysis, n)]
    repairs = []
    for up, down in zip(ups, reversed(downs)):
        produced = _spatial_sizes(result, up.outputs[0])
        wanted = _spatial_sizes(result, down.inputs[0])
        details = analysis.details(up.name)
        if len(produced) != len(wanted) or produced == wanted or "strides" not in details:
            continue
        padding = list(details.get("output_padding", (0,) * len(produced)))
        solvable = True
        for axis, (have, want) in enumerate(zip(produced, wanted)):
            if have == want:
                continue
            size_in = _spatial_sizes(result, up.inputs[0])[axis]
            pads = details["pads"][axis]
            if not all(isinstance(v, int) for v in (size_in, want)) or pads is None:
                solvable = False
                break
            solved = output_padding_for(size_in, details["kernel"][axis], want, stride=details["strides"][axis],
                                        pads=tuple(pads), dilation=details["dilations"][axis], runtime="onnxruntime")
            if not solved.possible:
                solvable = False
                break
            padding[axis] = solved.value
        if not solvable:
            continue
        patch = Patch(up.name, {"output_padding": tuple(padding)})
        after = repropagate(result, [patch], ())
        if after is None or _spatial_sizes(after, up.outputs[0]) != wanted:
            continue
        run = execute_branch(after, [after.graph.nodes[up.name]], memory_budget=analysis.memory_budget) \
            if analysis.confirm else None
        if run is not None:
            analysis.disagreements.extend(run.disagreements)
        confirmed = bool(run and run.confirmed and tuple(run.sizes.get(up.outputs[0], ())) == tuple(wanted))
        fix = Fix(title=f"set output_padding of {up.name!r} to {padding}", node=up.name, attribute="output_padding",
                  value=padding, holds_for=f"the checked size ({_checked(analysis)})", safe=True, confirmed=confirmed,
                  note=run.skipped if run is not None else "")
        repairs.append(MirrorRepair(up.name, down.name, tuple(produced), tuple(wanted), fix))
    return repairs


def _checked(analysis: Analysis) -> str:
    return ", ".join(f"{k}={v}" for k, v in analysis.result.bindings.items()) or "fixed input shape"
