"""The HTML report as a person sees it: opened in headless Chromium (Debian's ``chromium``).

The report of a U-Net whose joins fail at 37×37 must render without a console error or a network
request, show the SVG graph, and show the failing join highlighted *and on screen* when the page opens —
checked from the browser's layout (the join's box lies inside the window and is the element at its own
centre) and from the screenshot's pixels (the join's outline is drawn in the join colour). The
screenshot and the report are kept in ``artifacts/`` for a person to look at.

Without Chromium the tests are skipped with the reason — never passed silently: the reason is also
printed and raised as a warning, so it shows in pytest's summary. ``.ci/run`` installs Chromium when it
is missing and leaves the installer's output in ``artifacts/chromium-install.log``.
"""

from __future__ import annotations

import os
import sys
import warnings

import pytest
from browser_cdp import Chromium, find_chromium, missing_reason

from shapecheck.cli import main
from shapecheck.report.graphview import ROLE_COLOR

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ARTIFACTS = os.path.join(REPO, "artifacts")
UNET = os.path.join(REPO, "fixtures", "onnx", "unet_k2s2_odd_breaks.onnx")
PADFIX = os.path.join(REPO, "fixtures", "onnx", "unet_convtranspose_padfix.onnx")

#: What the page reports about itself once loaded: the graph, the focused join, and where it is.
PROBE = """(() => {
  const svg = document.querySelector("section.model svg.graph");
  const focus = svg && svg.dataset.focus;
  const join = focus !== undefined ? svg.querySelector(`.node[data-i="${focus}"]`) : null;
  const viewport = document.querySelector(".viewport").getBoundingClientRect();
  const out = {svg: !!svg, nodes: svg ? svg.querySelectorAll(".node").length : 0,
               ready: document.documentElement.dataset.ready, title: document.title,
               window: [innerWidth, innerHeight], scroll: [scrollX, scrollY],
               viewport: [viewport.left, viewport.top, viewport.right, viewport.bottom]};
  if (join) {
    const r = join.querySelector("rect").getBoundingClientRect();
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    out.join = {name: join.querySelector("title").textContent, classes: join.getAttribute("class"),
                rect: [r.left, r.top, r.right, r.bottom],
                stroke: getComputedStyle(join.querySelector("rect")).stroke,
                on_top: !!hit && join.contains(hit)};
  }
  return out;
})()"""


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return tuple(int(hex_color[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        reason = missing_reason()
        print(f"\nbrowser tests skipped: {reason}", file=sys.stderr)
        warnings.warn(f"browser tests skipped: {reason}", UserWarning, stacklevel=1)
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="module")
def unet_report() -> str:
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, "report-unet_k2s2_odd_breaks-37.html")
    assert main(["check", UNET, "--dim", "H=37", "--dim", "W=37", "--format", "html", "-o", path]) == 1
    return path


def test_the_mismatched_join_is_highlighted_and_visible(chromium: str, unet_report: str) -> None:
    with Chromium(chromium, width=1366, height=860) as browser:
        load = browser.open(unet_report)
        assert load.errors == [], f"console errors: {load.errors}"
        leaving = [url for url in load.requests if not url.startswith(("file:", "data:", "about:"))]
        assert leaving == [], f"the report fetched {leaving}"
        state = browser.evaluate(PROBE)
        assert state["ready"] == "1", "the page script did not finish"
        assert state["svg"] and state["nodes"] >= 38

        join = state["join"]
        assert join["name"].startswith("/ups.0/Concat (Concat)")
        assert {"role-join", "sev-error", "hl"} <= set(join["classes"].split())
        assert join["stroke"] == "rgb({}, {}, {})".format(*_rgb(ROLE_COLOR["join"]))
        left, top, right, bottom = join["rect"]
        width, height = state["window"]
        vp_left, vp_top, vp_right, vp_bottom = state["viewport"]
        assert left >= 0 and right <= width and top >= 0 and bottom <= height, f"join off screen: {join['rect']}"
        assert vp_left <= left and right <= vp_right and vp_top <= top and bottom <= vp_bottom
        assert join["on_top"], "something covers the join"

        # the pixels: the join's outline is drawn in the join colour
        sx, sy = state["scroll"]
        rows = browser.pixels(left + sx - 3, top + sy - 3, right - left + 6, bottom - top + 6)
        red = _rgb(ROLE_COLOR["join"])
        close = sum(1 for row in rows for p in row if sum(abs(a - b) for a, b in zip(p, red)) < 60)
        assert close >= 2 * (right - left), f"only {close} pixels of the join colour around the join"

        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "report-unet_k2s2_odd_breaks-37.png")
        browser.screenshot(shot)
        with open(shot, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
        assert os.path.getsize(shot) > 20_000


def test_clicking_a_node_shows_its_attributes_and_the_controls_work(chromium: str, unet_report: str) -> None:
    with Chromium(chromium) as browser:
        assert browser.open(unet_report).errors == []
        shown = browser.evaluate("""(() => {
          const pool = [...document.querySelectorAll(".node")].find(
            n => n.querySelector("title").textContent.startsWith("/downs.2/pool/MaxPool"));
          pool.dispatchEvent(new MouseEvent("click", {bubbles: true}));
          const panel = document.getElementById("panel");
          return {hidden: panel.hidden, text: panel.textContent,
                  selected: pool.classList.contains("selected")};
        })()""")
        assert not shown["hidden"] and shown["selected"]
        for text in ("/downs.2/pool/MaxPool", "MaxPool", "strides", "[2,2]", "1×8×4×4", "floor-loss", "SC201"):
            assert text in shown["text"], text
        zoom = browser.evaluate("""(() => {
          const svg = document.querySelector("svg.graph"), before = +svg.getAttribute("width");
          document.querySelector('button[data-zoom="+"]').click();
          const bigger = +svg.getAttribute("width");
          document.querySelector('button[data-zoom="fit"]').click();
          const fitted = svg.getBoundingClientRect().width;
          document.querySelector('.finding button[data-goto]').click();
          return {before, bigger, fitted, viewport: document.querySelector(".viewport").clientWidth};
        })()""")
        assert zoom["bigger"] > zoom["before"] and zoom["fitted"] <= zoom["viewport"] + 1
        assert browser.errors_since_open() == []


def test_a_200_node_export_opens_with_its_shape_computations_folded_away(chromium: str, tmp_path) -> None:
    report = os.path.join(str(tmp_path), "padfix.html")
    assert main(["inspect", PADFIX, "--format", "html", "-o", report]) == 0
    with Chromium(chromium) as browser:
        load = browser.open(report)
        assert load.errors == []
        assert load.ready_ms < 2000
        state = browser.evaluate("""(() => {
          const hidden = n => getComputedStyle(n).display === "none";
          const aux = [...document.querySelectorAll(".node.aux")];
          const before = aux.filter(hidden).length;
          document.querySelector("input.aux-toggle").click();
          return {aux: aux.length, hiddenBefore: before, hiddenAfter: aux.filter(hidden).length};
        })()""")
        assert state["aux"] > 50 and state["hiddenBefore"] == state["aux"] and state["hiddenAfter"] == 0
        assert browser.errors_since_open() == []
