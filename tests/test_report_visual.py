"""The visual formats: the HTML report (self-contained, the SVG well-formed, the nodes of each finding
highlighted in their role, callouts with the verified fix), DOT with the same labels and colours, and the
Markdown summaries of ``check`` and ``inspect``. The browser test is ``test_report_browser.py``."""

from __future__ import annotations

import html.parser
import io
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from shapecheck.check import check_file
from shapecheck.cli import main
from shapecheck.load import load_model
from shapecheck.propagate import propagate
from shapecheck.report.graphview import FAMILY_FILL, ROLE_COLOR, SEVERITY_COLOR, build_view, pretty_dim, pretty_shape
from shapecheck.report.markdown import cell, render_markdown
from shapecheck.symbolic import symbol

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
UNET = "fixtures/onnx/unet_k2s2_odd_breaks.onnx"
ODD = "fixtures/yaml/tiny_unet_odd.yaml"
CLEAN = "fixtures/yaml/tiny_unet.yaml"
PADFIX = "fixtures/onnx/unet_convtranspose_padfix.onnx"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch) -> None:
    monkeypatch.chdir(REPO)


@pytest.fixture(scope="module")
def unet_html(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("html") / "unet.html"
    os.chdir(REPO)
    assert main(["inspect", UNET, "--dim", "H=37", "--dim", "W=37", "--format", "html", "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def _svg(page: str) -> ET.Element:
    match = re.search(r"<svg .*?</svg>", page, flags=re.S)
    assert match, "no <svg> in the page"
    return ET.fromstring(match.group(0))  # well-formed XML, or this raises


def _nodes(svg: ET.Element) -> dict[str, ET.Element]:
    """Drawn nodes by their full name (from the <title> tooltip)."""
    found = {}
    for group in svg.iter(f"{SVG}g"):
        if "node" in group.get("class", "").split():
            title = group.find(f"{SVG}title").text
            found[title.split(" (")[0]] = group
    return found


class _Tags(html.parser.HTMLParser):
    """Collects every tag and attribute; unbalanced pages show up as leftovers on the stack."""

    VOID = frozenset({"meta", "br", "input", "img", "link", "hr", "path", "rect", "stop"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.attributes: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()


# -- the HTML report ---------------------------------------------------------------------------------


def test_html_is_one_self_contained_page(unet_html: str) -> None:
    parser = _Tags()
    parser.feed(unet_html)
    parser.close()
    assert parser.stack == [], f"unclosed tags {parser.stack}"
    for tag, attrs in parser.attributes:
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not re.match(r"(https?:)?//", value), f"<{tag} {key}={value!r}> fetches from the network"
        assert tag not in ("link", "iframe", "img"), f"<{tag}> in a self-contained report"
        if tag == "script":
            assert "src" not in attrs
    assert "@import" not in unet_html and "url(http" not in unet_html
    assert re.search(r"<style>.+</style>", unet_html, flags=re.S) and "<script>" in unet_html


def test_html_draws_every_node_and_labels_every_edge_with_its_shape(unet_html: str) -> None:
    svg = _svg(unet_html)
    graph = load_model(UNET)
    drawn = _nodes(svg)
    assert set(graph.nodes) <= set(drawn)
    edges = [p for p in svg.iter(f"{SVG}path") if "edge" in p.get("class", "").split()]
    labels = [t for t in svg.iter(f"{SVG}text") if "elabel" in t.get("class", "").split()]
    assert len(labels) == len(edges) > len(graph.nodes)
    shown = {"".join(t.itertext()) for t in labels}
    assert "1×8×9×9" in shown and "1×8×8×8" in shown  # the two sides of the failing join at /ups.0/Concat
    assert any("arc" in p.get("class", "") for p in edges), "skip connections are drawn as arcs"


def test_html_highlights_the_join_the_floor_and_the_upsampler(unet_html: str) -> None:
    drawn = _nodes(_svg(unet_html))
    classes = {name: set(group.get("class", "").split()) for name, group in drawn.items()}
    for join in ("/ups.0/Concat", "/ups.2/Concat"):
        assert {"hl", "role-join", "sev-error"} <= classes[join]
    assert "role-floor-loss" in classes["/downs.2/pool/MaxPool"]
    assert "role-floor-loss" in classes["/downs.0/pool/MaxPool"]
    assert "role-upsampler" in classes["/ups.0/up/ConvTranspose"]
    assert "hl" not in classes["/ups.1/Concat"], "the join that works is not highlighted"
    assert f".role-join rect{{stroke:{ROLE_COLOR['join']}}}" in unet_html


def test_html_callouts_carry_the_finding_and_its_verified_fix(unet_html: str) -> None:
    svg = _svg(unet_html)
    callouts = [g for g in svg.iter(f"{SVG}g") if "callout" in g.get("class", "").split()]
    texts = [" ".join("".join(t.itertext()) for t in g.iter(f"{SVG}text")) for g in callouts]
    joins = [t for t in texts if t.startswith("SC201 error")]
    assert len(joins) == 2
    assert all("✓ fix: set output_padding of" in t for t in joins)
    assert sum(t.startswith("SC301 warning") for t in texts) == 2
    leaders = [p for p in svg.iter(f"{SVG}path") if "leader" in p.get("class", "")]
    assert len(leaders) == len(callouts)


def test_html_scrolls_to_the_first_failing_join_and_embeds_node_attributes(unet_html: str) -> None:
    svg = _svg(unet_html)
    focus = svg.get("data-focus")
    drawn = _nodes(svg)
    assert drawn["/ups.0/Concat"].get("data-i") == focus
    data = re.search(r'<script type="application/json" class="model-data" data-model="0">(.*?)</script>',
                     unet_html, flags=re.S).group(1)
    document = json.loads(data)
    pool = next(n for n in document["nodes"] if n["name"] == "/downs.2/pool/MaxPool")
    assert pool["attributes"]["strides"] == [2, 2] and pool["outputs"][0][1] == "1×8×4×4"
    assert {f["code"] for f in document["findings"]} == {"SC201", "SC301", "SC401"}


def test_html_node_table_lists_every_node(unet_html: str) -> None:
    rows = re.findall(r'<tr(?: class="hl")? data-goto="\d+"><td>([^<]+)</td>', unet_html)
    assert rows == [node.name for node in load_model(UNET).topological_order()]


def test_check_html_has_a_section_per_file_and_says_why_a_file_is_unreadable(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("shapecheck: 1\nlayers: [\n")
    out = tmp_path / "report.html"
    code = main(["check", ODD, CLEAN, str(broken), "--format", "html", "-o", str(out)])
    assert code == 2
    page = out.read_text(encoding="utf-8")
    assert page.count('<section class="model"') == 2
    assert "could not be read" in page and "broken.yaml" in page
    assert "Found 2 errors, 2 warnings, 0 infos in 3 files; 1 could not be read." in page
    # the clean file's section is folded, the one with findings open
    assert re.search(r'id="m0" data-model="0"><details open>', page)
    assert re.search(r'id="m1" data-model="1"><details>', page)


def test_check_html_redraws_with_the_input_shape_it_was_checked_with(tmp_path) -> None:
    out = tmp_path / "report.html"
    main(["check", UNET, "--input-shape", "input=1x1x37x37", "--format", "html", "-o", str(out)])
    page = out.read_text(encoding="utf-8")
    assert "1×1×37×37" in page and "role-join" in page


def test_shape_computations_are_in_their_own_lane_hidden_until_asked(tmp_path) -> None:
    out = tmp_path / "padfix.html"
    assert main(["inspect", PADFIX, "--format", "html", "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    svg = _svg(page)
    aux = [g for g in svg.iter(f"{SVG}g") if {"node", "aux"} <= set(g.get("class", "").split())]
    assert len(aux) > 50 and 'class="aux-toggle"' in page
    assert float(svg.get("data-aux-height")) > 0
    assert ".model:not(.show-aux) .aux{display:none}" in page


def test_pretty_sizes() -> None:
    h = symbol("H")
    assert pretty_dim(h // 2) == "⌊H/2⌋"
    assert pretty_dim((h + 3) // 4 * 2) == "2*⌊(H + 3)/4⌋"
    assert pretty_dim(None) == "?"
    assert pretty_shape((1, 16, h // 2, 37)) == "1×16×⌊H/2⌋×37"
    assert pretty_shape(None) == "?" and pretty_shape(()) == "scalar"


def test_view_roles_come_from_finding_related() -> None:
    report = check_file(UNET, dims={"H": 37, "W": 37})
    graph = load_model(UNET)
    view = build_view(propagate(graph, dims={"H": 37, "W": 37}), report.findings)
    assert view.node("/ups.2/Concat").role == "join"
    assert view.node("/downs.0/pool/MaxPool").role == "floor-loss"
    assert view.node("/ups.2/up/ConvTranspose").role == "upsampler"
    assert view.node("/ups.2/up/ConvTranspose").color == ROLE_COLOR["upsampler"]
    assert view.node("/stem/stem.0/Conv").role is None
    assert view.node("/stem/stem.1/Relu").attach and view.node("/downs.0/pool/MaxPool").level_step == 1
    assert view.node("/ups.0/up/ConvTranspose").level_step == -1


# -- DOT --------------------------------------------------------------------------------------------


def test_dot_has_the_html_labels_and_colours(capsys) -> None:
    assert main(["inspect", UNET, "--dim", "H=37", "--dim", "W=37", "--format", "dot"]) == 0
    dot = capsys.readouterr().out
    assert dot.startswith('digraph "fixtures/onnx/unet_k2s2_odd_breaks.onnx" {') and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    node_lines = re.findall(r"^  n\d+ \[", dot, flags=re.M)
    assert len(node_lines) == len(load_model(UNET)) + 2  # plus the input and the output
    join, pool, floor = ROLE_COLOR["join"], FAMILY_FILL["pool"], ROLE_COLOR["floor-loss"]
    assert re.search(rf'label="Concat\\nups.0/Concat".*color="{join}", penwidth=3, xlabel="join fails · SC201"', dot)
    assert re.search(rf'label="MaxPool\\nk2 s2 p0\\ndowns.2/pool/MaxPool".*fillcolor="{pool}".*color="{floor}"', dot)
    assert '[label="1×8×9×9"]' in dot
    notes = re.findall(r"^  f\d+ \[shape=note.*$", dot, flags=re.M)
    assert len(notes) == 6 and all(SEVERITY_COLOR["error"] in n or SEVERITY_COLOR["warning"] in n for n in notes)
    assert "✓ fix: set output_padding of '/ups.0/up/ConvTranspose' to\\l[1, 1]\\l" in dot


def test_dot_escapes_quotes_and_backslashes() -> None:
    from shapecheck.report.dot import dot_string

    assert dot_string('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


# -- Markdown ---------------------------------------------------------------------------------------


def test_check_markdown_is_a_headline_and_one_row_per_finding(capsys) -> None:
    code = main(["check", ODD, UNET, "--dim", "H=37", "--dim", "W=37", "--format", "markdown"])
    assert code == 1
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "### shapecheck: ❌ 6 errors, 4 warnings, 0 infos in 2 files"
    rows = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == 10
    assert all(row.count(" | ") == 4 for row in rows), "a | in a message would split its cell"
    join = next(r for r in rows if "`/ups.2/Concat`" in r)
    assert "✓ set output_padding of '/ups.2/up/ConvTranspose' to [1, 1]" in join and "(+4 more)" in join


def test_check_markdown_when_clean_and_when_unreadable(tmp_path) -> None:
    clean = check_file(CLEAN)
    out = io.StringIO()
    render_markdown([clean], out)
    assert out.getvalue().startswith("### shapecheck: ✅ all checks passed (1 file)")
    broken = tmp_path / "b.yaml"
    broken.write_text("shapecheck: 1\nlayers: [\n")
    out = io.StringIO()
    render_markdown([clean, check_file(str(broken))], out)
    assert "could not be read" in out.getvalue() and "Could not be read:" in out.getvalue()


def test_inspect_markdown_folds_the_node_table(capsys) -> None:
    assert main(["inspect", ODD, "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("### shapecheck inspect: `fixtures/yaml/tiny_unet_odd.yaml`")
    assert "<details><summary>6 nodes</summary>" in text
    assert "| `pool1` | MaxPool | k2 s2 p0 | 1×16×65×65 | 1×16×32×32 | 1,1 |" in text
    assert "SC201 join-size-mismatch" in text


def test_markdown_cells_cannot_break_the_table_or_open_tags() -> None:
    assert cell("a|b\nc <script>") == "a\\|b c &lt;script&gt;"


def test_sizes_markdown_from_the_sizes_document() -> None:
    pytest.importorskip("shapecheck.report.sizes", reason="the sizes analysis (shapecheck/sizes) is not present")
    from shapecheck.api import sizes
    from shapecheck.report.markdown import write_sizes_markdown

    out = io.StringIO()
    write_sizes_markdown(sizes(UNET), out)
    text = out.getvalue()
    assert text.startswith("### shapecheck sizes: `fixtures/onnx/unet_k2s2_odd_breaks.onnx`")
    assert "✅ runs at H ≡ 0 (mod 8), from 8 and W ≡ 0 (mod 8), from 8 (proven for every size)" in text
    assert "| H | H ≡ 0 (mod 8), from 8 | ✓ proven, periodic | 8, 16, 24, 32, 40 |" in text
    assert "| H ≡ 4–7 (mod 8) from 12 | `/ups.0/Concat` | join-mismatch:" in text
    static = io.StringIO()
    write_sizes_markdown(sizes("fixtures/onnx/unet_resize_to_skip_fixed.onnx"), static)
    assert "✅ runs (no symbolic sizes; inputs `input` 1×1×37×37)" in static.getvalue()


def test_sizes_command_writes_markdown(capsys) -> None:
    pytest.importorskip("shapecheck.report.sizes", reason="the sizes analysis (shapecheck/sizes) is not present")
    assert main(["sizes", "fixtures/onnx/unet3d.onnx", "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("### shapecheck sizes: `fixtures/onnx/unet3d.onnx`")
    assert "| D | D ≡ 0 (mod 4), from 4 | ✓ proven, periodic | 4, 8, 12, 16, 20 |" in text
