"""``--html FILE``: the self-contained page of an audit and of a check run, rendered in a real
headless Chromium (its DOM and a screenshot), and the option's refusals.

The browser tests skip when Chromium is missing, unless ``INFOMIN_REQUIRE_BROWSER=1`` (CI).
Screenshots are kept in ``$INFOMIN_TEST_ARTEFACTS`` when that is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import list_array

from infomin_cli.estimators.registry import REGISTRY, columns
from infomin_cli.report.html import audit_html, check_html

SCRIPT = "<script>alert(1)</script>"
EST = ("sliced", "linear")


@pytest.fixture
def data(tmp_path) -> Path:
    """300 rows, a 4-d embedding: ``leak`` is the sign of its first column (a leak), ``noise``
    is independent of it (a pass), and an attribute named like a script tag reads the second."""
    rng = np.random.default_rng(7)
    z = rng.standard_normal((300, 4)).astype(np.float32)
    path = tmp_path / "emb.parquet"
    pq.write_table(pa.table({"embedding": list_array(z), "leak": (z[:, 0] > 0).astype(np.int64),
                             "noise": rng.integers(0, 2, 300),
                             SCRIPT: z[:, 1] + rng.standard_normal(300)}), path)
    return path


# -- the browser ---------------------------------------------------------------------------

def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("INFOMIN_REQUIRE_BROWSER") == "1":
            pytest.fail("INFOMIN_REQUIRE_BROWSER=1 but chromium is not installed")
        pytest.skip("chromium is not installed")
    return exe


def _browse(page: Path, tmp_path: Path, shot_name: str) -> tuple[str, Path]:
    """The DOM Chromium builds from ``page``, and a 1200x1600 screenshot of it."""
    exe = _chromium()
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    url = page.resolve().as_uri()
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    shot = tmp_path / shot_name
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1600", url],
                   capture_output=True, timeout=120, check=True)
    if os.environ.get("INFOMIN_TEST_ARTEFACTS"):
        keep = Path(os.environ["INFOMIN_TEST_ARTEFACTS"])
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, keep / shot_name)
    return dom, shot


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]):
        self.tag, self.attrs, self.kids = tag, attrs, []  # kids: nodes and text, in order

    def all(self, tag: str, **attrs: str) -> list[Node]:
        """Descendants with this tag (and these attribute values; ``cls`` = a class)."""
        out = []
        for c in self.kids:
            if isinstance(c, str):
                continue
            want = {("class" if k == "cls" else k): v for k, v in attrs.items()}
            if c.tag == tag and all(
                    v in (c.attrs.get(k) or "").split() if k == "class" else c.attrs.get(k) == v
                    for k, v in want.items()):
                out.append(c)
            out += c.all(tag, **attrs)
        return out

    def content(self) -> str:
        return "".join(c if isinstance(c, str) else c.content() for c in self.kids)


class _Tree(HTMLParser):
    VOID = {"meta", "br", "link", "img", "input", "hr", "path", "line", "rect", "circle"}

    def __init__(self, dom: str):
        super().__init__()
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].kids.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].kids.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while len(self.stack) > 1 and self.stack.pop().tag != tag:
            pass

    def handle_data(self, data):
        self.stack[-1].kids.append(data)


def _assert_page_shows(root: Node, report: dict) -> None:
    """Every attribute of ``report`` has its table row (each value as the JSON has it, to three
    decimals, and its verdict) and its chart (one point per estimate)."""
    attrs = report["attributes"]
    rows = {r.attrs["data-attribute"]: r for r in root.all("tr") if "data-attribute" in r.attrs}
    assert set(rows) == set(attrs)
    charts = {f.all("figcaption")[0].content(): f for f in root.all("figure", cls="chart")}
    assert set(charts) == set(attrs)
    for name, a in attrs.items():
        cells = rows[name].all("td")
        assert cells[0].content() == name
        est = columns(report["estimators"])  # the table's column order
        values = [a[REGISTRY[e].block]["value"] for e in est]
        assert [c.all("b")[0].content() for c in cells[2:2 + len(est)]] == [
            f"{v:.3f}" for v in values]
        assert a["verdict"].replace("_", " ") in cells[-1].content()
        (svg,) = charts[name].all("svg")
        points = svg.all("circle", cls="point")
        assert len(points) == sum(v is not None for v in values)
        assert {p.attrs["data-estimator"] for p in points} == set(report["estimators"])


def _assert_screenshot(shot: Path) -> None:
    from matplotlib.image import imread

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(shot)
    assert img.shape[:2] == (1600, 1200)
    ink = np.abs(img[..., :3] - img[0, 0, :3]).sum(axis=-1) > 0.1
    assert ink.mean() > 0.01  # text, the table and the charts: not a blank page
    red = (img[..., 0] > 0.5) & (img[..., 1] < 0.3) & (img[..., 2] < 0.3)
    assert red.sum() > 50  # the FAIL verdict


# -- the pages in a browser ----------------------------------------------------------------

def test_audit_page_in_a_browser(invoke, data, tmp_path):
    page, out = tmp_path / "audit.html", tmp_path / "audit.json"
    r = invoke("audit", data, "--attr", "leak", "--attr", "noise", "--attr", SCRIPT,
               "--estimators", ",".join(EST), "--output", out, "--html", page)
    assert r.exit_code == 1, r.output  # leak fails: the page is written all the same
    report = json.loads(out.read_text())
    assert report["attributes"]["noise"]["verdict"] == "pass"
    dom, shot = _browse(page, tmp_path, "audit.png")
    root = _Tree(dom).root
    assert root.all("script") == [] and "<script>" not in dom  # the name is text, escaped
    _assert_page_shows(root, report)
    (verdict,) = root.all("span", cls="verdict")
    assert verdict.content().strip() == "✗ FAIL" and "fail" in verdict.attrs["class"]
    text = root.content()
    assert report["input"]["path"] in text and "300" in text and "0.01" in text
    assert f"{SCRIPT}: SI+linear p=" in text  # the reasons, as text
    _assert_screenshot(shot)


def test_check_page_in_a_browser(invoke, data, tmp_path):
    cfg = tmp_path / "infomin.toml"
    cfg.write_text(f'estimators = ["sliced", "linear"]\nseed = 1\n\n'
                   f'[[checks]]\nname = "clean"\ninput = "{data.name}"\nattributes = ["noise"]\n'
                   f'\n[[checks]]\nname = "leaky"\ninput = "{data.name}"\n'
                   f'attributes = ["leak", {json.dumps(SCRIPT)}]\n'
                   '[checks.thresholds]\nlinear = 0.5\n')
    page, out = tmp_path / "check.html", tmp_path / "run.json"
    r = invoke("check", "--config", cfg, "--output", out, "--html", page)
    assert r.exit_code == 1, r.output
    run = json.loads(out.read_text())
    dom, shot = _browse(page, tmp_path, "check.png")
    root = _Tree(dom).root
    assert root.all("script") == []
    sections = {s.attrs["data-check"]: s for s in root.all("section", cls="check")}
    assert set(sections) == {"clean", "leaky"}
    for name, entry in run["checks"].items():
        _assert_page_shows(sections[name], entry["report"])
        head = sections[name].all("h2")[0].content()
        assert head.startswith(name) and entry["verdict"] in head
    assert "fail when linear lower 95% bound > 0.5" in sections["leaky"].content()
    assert len(sections["leaky"].all("line", cls="limit")) == 2  # one per attribute's linear row
    verdict = root.all("span", cls="verdict")[0]  # the run's, above the checks
    assert verdict.content().strip() == "✗ FAIL" and "fail" in verdict.attrs["class"]
    _assert_screenshot(shot)

    # Against itself as a baseline: every estimate compared, none rose.
    page2, out2 = tmp_path / "again.html", tmp_path / "again.json"
    r = invoke("check", "--config", cfg, "--baseline", out, "--html", page2, "--output", out2)
    assert r.exit_code == 1, r.output  # the leak still fails; nothing rose
    root = _Tree(page2.read_text()).root
    sections = {s.attrs["data-check"]: s for s in root.all("section", cls="check")}
    for name, entry in json.loads(out2.read_text())["checks"].items():
        comps = entry["baseline"]["comparisons"]
        assert len(comps) == 2 * len(entry["report"]["attributes"])
        (table,) = [t for t in sections[name].all("table") if "baseline" in t.content()]
        assert len(table.all("tr")) == 1 + len(comps) and "rose" not in table.content()


# -- the page without a browser ------------------------------------------------------------

def test_check_page_shows_a_rise_and_a_check_without_report():
    run = {"config": "infomin.toml", "verdict": "fail", "checks": {
        "a<b>": {"verdict": "fail", "input": "x.parquet", "report": None,
                 "error": "x.parquet: no such file & more", "warnings": ["w <i>"]},
        "b": {"verdict": "fail", "input": "y.parquet", "report": None, "baseline": {
            "alpha": 0.01, "correction": "holm", "verdict": "fail", "missing": ["race"],
            "not_compared": [], "comparisons": [
                {"attribute": "sex", "estimator": "rho", "old": 0.2, "new": 0.5, "diff": 0.3,
                 "p": 1e-6, "p_adjusted": 2e-6, "rose": True}]}}}}
    page = check_html(run)
    assert "a&lt;b&gt;" in page and "w &lt;i&gt;" in page and "<i>" not in page
    assert "no such file &amp; more" in page
    root = _Tree(page).root
    (row,) = [t for t in root.all("tr") if "ρ*" in t.content()]
    cells = [td.content() for td in row.all("td")]
    assert cells[:6] == ["sex", "ρ*", "0.200", "0.500", "+0.300", "<0.001"]
    assert "rose" in cells[6]
    assert "in the baseline, not in this run: race" in root.content()


# -- the option ------------------------------------------------------------------------------

def test_html_written_on_a_pass(invoke, data, tmp_path):
    page = tmp_path / "ok.htm"
    r = invoke("audit", data, "--attr", "noise", "--estimators", ",".join(EST), "--html", page)
    assert r.exit_code == 0, r.output
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "✓ PASS" in text
    for fetches in ("<script", "://", "src=", "href=", "url(", "@import"):  # offline
        assert fetches not in text


@pytest.mark.parametrize("args, problem", [
    (["--html", "report.txt"], "--html report.txt: the file name must end in .html or .htm"),
    (["--html", "same.html", "--output", "same.html"], "is also the path of"),
])
def test_html_refused_before_anything_is_read(invoke, data, tmp_path, args, problem):
    r = invoke("audit", data, "--attr", "leak", "--estimators", ",".join(EST), *args)
    assert r.exit_code == 2 and problem in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emb.parquet"]


def test_html_never_overwrites_an_input(invoke, data, tmp_path):
    """An input named .html (refused before it is read: the file stays as it was)."""
    fake = tmp_path / "emb.html"
    fake.write_bytes(data.read_bytes())
    r = invoke("audit", fake, "--attr", "leak", "--html", fake)
    assert r.exit_code == 2 and "refusing to overwrite an input file" in r.output
    assert fake.read_bytes() == data.read_bytes()
    cfg = tmp_path / "infomin.toml"
    cfg.write_text(f'[[checks]]\nname = "c"\ninput = "{data.name}"\nattributes = ["leak"]\n')
    r = invoke("check", "--config", cfg, "--markdown", "s.html", "--html", "s.html")
    assert r.exit_code == 2 and "--html s.html: is also the path of --markdown" in r.output
    assert not (tmp_path / "s.html").exists()


def test_a_refused_html_path_loads_nothing_heavy(data, tmp_path):
    code = ("import sys\nfrom infomin_cli.cli import main\ntry:\n"
            f"    main(['audit', {str(data)!r}, '--attr', 'leak', '--html', 'r.pdf'])\n"
            "except SystemExit as e:\n    print(e.code, 'torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.stdout.split() == ["2", "False"], proc.stderr


def test_audit_page_of_an_attribute_not_estimable():
    report = {"input": {"path": "e.parquet"}, "n_rows": 40, "dim": 3, "seed": 0,
              "verdict": "not_estimable", "estimators": ["sliced", "rho"],
              "thresholds": {"alpha": 0.01, "correction": "holm", "fail_above": {}},
              "attributes": {"g": {
                  "kind": "binary", "verdict": "not_estimable", "reasons": [],
                  "notes": ["rho*: not estimable: too few rows"], "tests": [],
                  "sliced": {"value": 0.25, "null_q95": 0.3, "ci": [0.1, 0.4]},
                  "rho_star": {"value": None, "not_estimable": "too few rows"}}}}
    root = _Tree(audit_html(report)).root
    (badge,) = root.all("span", cls="verdict")
    assert badge.content() == "⚠ NOT ESTIMABLE" and "other" in badge.attrs["class"]
    (row,) = root.all("tr", **{"data-attribute": "g"})
    cells = row.all("td")
    assert cells[3].content() == "not estimable" and cells[3].attrs["title"] == "too few rows"
    assert [c.attrs["data-estimator"] for c in root.all("circle", cls="point")] == ["sliced"]
    assert "rho*: not estimable: too few rows" in root.content()
