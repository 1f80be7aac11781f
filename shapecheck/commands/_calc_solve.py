"""Layer settings that take an input size to a target size, for ``shapecheck calc ... --target``.

No formula is inverted here: the search walks a small box of settings and keeps those for which the
forward functions of :mod:`shapecheck.arith` give the target, so a listed setting can never disagree with
what ``shapecheck calc`` computes for it. The box is small (a few hundred settings), so brute force is
both the simplest and the most trustworthy solver.

The survivors are ranked by how common their pattern is in published architectures, because the first
line is the one people copy: a ``k3 s2 p1`` downsampling conv or a ``k2 s2`` up-conv is what a reader of
the model expects to see, an exotic ``k6 s2 p2`` that happens to fit is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from shapecheck import arith
from shapecheck.arith import AutoPad, Pads

__all__ = [
    "DEFAULT_KERNELS",
    "DEFAULT_PADS",
    "DEFAULT_STRIDES",
    "Search",
    "Setting",
    "conv_settings",
    "conv_transpose_settings",
    "reads_every_phase",
]

#: The default search box: kernels and strides seen in practice, symmetric pads up to 3.
DEFAULT_KERNELS: tuple[int, ...] = tuple(range(1, 8))
DEFAULT_STRIDES: tuple[int, ...] = (1, 2, 3, 4)
DEFAULT_PADS: tuple[Pads, ...] = tuple((p, p) for p in range(4))


@dataclass(frozen=True)
class Search:
    """The box of settings to try on one axis; a value the user fixed on the command line is a box of one.

    ``output_paddings`` ``None`` means every legal value (``< max(stride, dilation)``). ``prune_wide_pads``
    drops pads wider than the kernel span ``d(k−1)``: there a conv has windows that see only padding and a
    transposed conv crops outputs it computed — legal, but never what someone searching for a size wants.
    It is off when the user gave the pads.
    """

    kernels: Sequence[int] = DEFAULT_KERNELS
    strides: Sequence[int] = DEFAULT_STRIDES
    pads: Sequence[Pads] = DEFAULT_PADS
    dilations: Sequence[int] = (1,)
    output_paddings: Sequence[int] | None = None
    auto_pad: AutoPad = AutoPad.NOTSET
    prune_wide_pads: bool = True


@dataclass(frozen=True)
class Setting:
    """One setting that reaches the target, with what a reader needs to choose between settings.

    ``tier`` is the popularity rank of ``pattern`` (0 = most common); ``gaps`` is True when the kernel
    taps do not cover every stride phase — a conv then never reads some inputs, a transposed conv leaves
    output positions that no input reaches (the extreme of the checkerboard artefact).
    """

    kernel: int
    stride: int
    dilation: int
    pads: Pads
    output_padding: int
    output: int
    floor_remainder: int = 0
    pattern: str = ""
    tier: int = 99
    gaps: bool = False
    notes: tuple[str, ...] = field(default=())

    def sort_key(self) -> tuple[int, ...]:
        """Most useful first: no gaps, common pattern, then small kernel, small pads, small stride."""
        return (
            int(self.gaps),
            self.tier,
            self.kernel,
            self.dilation,
            max(self.pads),
            sum(self.pads),
            self.output_padding,
            self.stride,
        )


def reads_every_phase(k: int, stride: int, dilation: int = 1) -> bool:
    """Whether the taps ``0, d, …, d(k−1)`` hit every residue mod ``stride``.

    If they do not, a strided conv skips some input positions entirely (a 1×1 conv with stride 2 reads
    every other row) and a transposed conv leaves holes in its output.
    """
    return len({(t * dilation) % stride for t in range(k)}) == stride


def _symmetric(pads: Pads, auto: bool) -> int | None:
    """The pad the patterns compare with; under auto_pad the layer's own choice, so "any" (-1)."""
    if auto:
        return -1
    return pads[0] if pads[0] == pads[1] else None


def _conv_pattern(k: int, s: int, d: int, pads: Pads, *, auto: bool = False) -> tuple[int, str]:
    p = _symmetric(pads, auto)
    if d != 1 or p is None:
        return 9, ""
    if k == 3 and p in (1, -1):
        return 0, "k3 p1 (ResNet, VGG)" if p == 1 else "k3 (ResNet, VGG)"
    if k == s and p in (0, -1):
        return 1, "k = s, non-overlapping patches (ConvNeXt, ViT stem)"
    if s % 2 == 0 and k == 2 * s and p in (s // 2, -1):
        return 2, "k = 2s, p = s/2 (DCGAN, pix2pix)" if p != -1 else "k = 2s (DCGAN, pix2pix)"
    if k % 2 == 1 and p in ((k - 1) // 2, -1):
        return 3, "odd k, p = (k-1)/2 ('same'-style)" if p != -1 else "odd k"
    return 9, ""


def _conv_transpose_pattern(
    k: int, s: int, d: int, pads: Pads, output_padding: int, *, auto: bool = False
) -> tuple[int, str]:
    p = _symmetric(pads, auto)
    if d != 1 or p is None:
        return 9, ""
    if k == s and p in (0, -1) and output_padding == 0:
        return 0, "k = s, non-overlapping (U-Net up-conv)"
    if s % 2 == 0 and k == 2 * s and p in (s // 2, -1) and output_padding == 0:
        return 1, "k = 2s, p = s/2 (DCGAN generator)" if p != -1 else "k = 2s (DCGAN generator)"
    if k % 2 == 1 and p in ((k - 1) // 2, -1) and output_padding == s - 1:
        return 2, "odd k, " + (
            "" if p == -1 else "p = (k-1)/2, "
        ) + "output_padding s-1 (mirrors a 'same' conv)"
    return 9, ""


def _too_wide(search: Search, k: int, d: int, pads: Pads) -> bool:
    return search.prune_wide_pads and max(pads) > arith.effective_kernel(k, d) - 1


def conv_settings(n: int, target: int, search: Search) -> list[Setting]:
    """Every Conv setting in ``search`` whose output on an input of size ``n`` is ``target``, ranked."""
    found: list[Setting] = []
    auto = search.auto_pad is not AutoPad.NOTSET
    for k in search.kernels:
        for s in search.strides:
            for d in search.dilations:
                if search.auto_pad is AutoPad.NOTSET:
                    candidates = list(search.pads)
                else:
                    candidates = [arith.auto_pads(n, k, search.auto_pad, stride=s, dilation=d)]
                for pads in candidates:
                    if _too_wide(search, k, d, pads):
                        continue
                    if arith.conv_out(n, k, stride=s, pads=pads, dilation=d) != target:
                        continue
                    gaps = not reads_every_phase(k, s, d)
                    tier, pattern = (9, "") if gaps else _conv_pattern(k, s, d, pads, auto=auto)
                    notes = ("skips inputs: taps miss some stride phases",) if gaps else ()
                    found.append(
                        Setting(
                            kernel=k,
                            stride=s,
                            dilation=d,
                            pads=pads,
                            output_padding=0,
                            output=target,
                            floor_remainder=arith.floor_remainder(n, k, stride=s, pads=pads, dilation=d),
                            pattern=pattern,
                            tier=tier,
                            gaps=gaps,
                            notes=notes,
                        )
                    )
    return sorted(found, key=Setting.sort_key)


def conv_transpose_settings(n: int, target: int, search: Search) -> list[Setting]:
    """Every ConvTranspose setting in ``search`` whose output on size ``n`` is ``target``, ranked.

    Only legal output_padding values are tried (``< max(stride, dilation)``, PyTorch's rule); a setting
    legal there but not in onnxruntime (``output_padding >= stride``) carries a note.
    """
    found: list[Setting] = []
    auto = search.auto_pad is not AutoPad.NOTSET
    for k in search.kernels:
        for s in search.strides:
            for d in search.dilations:
                limit = arith.output_padding_limit(s, d)
                ops = range(limit) if search.output_paddings is None else search.output_paddings
                for op in ops:
                    if not 0 <= op < limit:
                        continue
                    if search.auto_pad in (AutoPad.SAME_UPPER, AutoPad.SAME_LOWER):
                        candidates = [
                            arith.conv_transpose_auto_pads(
                                n, k, search.auto_pad, stride=s, dilation=d, output_padding=op
                            )
                        ]
                    elif search.auto_pad is AutoPad.VALID:
                        candidates = [(0, 0)]
                    else:
                        candidates = list(search.pads)
                    for pads in candidates:
                        if _too_wide(search, k, d, pads):
                            continue
                        out = arith.conv_transpose_out(
                            n, k, stride=s, pads=pads, dilation=d, output_padding=op
                        )
                        if out != target:
                            continue
                        gaps = not reads_every_phase(k, s, d)
                        tier, pattern = (
                            (9, "") if gaps else _conv_transpose_pattern(k, s, d, pads, op, auto=auto)
                        )
                        notes: list[str] = []
                        if gaps:
                            notes.append("holes: some outputs get no input")
                        if op >= arith.output_padding_limit(s, d, runtime="onnxruntime"):
                            notes.append("onnxruntime rejects output_padding >= stride")
                        found.append(
                            Setting(
                                kernel=k,
                                stride=s,
                                dilation=d,
                                pads=pads,
                                output_padding=op,
                                output=out,
                                pattern=pattern,
                                tier=tier,
                                gaps=gaps,
                                notes=tuple(notes),
                            )
                        )
    return sorted(found, key=Setting.sort_key)
