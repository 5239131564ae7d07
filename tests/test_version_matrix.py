"""scripts/version_matrix.py's README line: the date and each row's verdict, as the README holds it."""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import version_matrix as vm  # noqa: E402


def row(spec: str, torch: str, ok: bool) -> vm.Row:
    step = vm.Step(ok, 1.0, "ok" if ok else "boom")
    return vm.Row(spec, {"torch": torch, "lightning": "2.6.6"}, 1.0, {"check": step})


def test_the_readme_line_names_the_date_and_each_rows_verdict():
    line = vm.summary([row("oldest", "2.3.0", True), row("newest", "2.13.0", False)], "2026-12-06")
    assert line.startswith("Last run of `scripts/version_matrix.py`, 2026-12-06: ")
    assert "`oldest` (torch 2.3.0, Lightning 2.6.6): passes" in line
    assert "`newest` (torch 2.13.0, Lightning 2.6.6): **fails**" in line
    assert "**fails**" in vm.summary([vm.Row("oldest")], "2026-12-06")  # no step ran (a failed install): no pass


def test_the_readme_holds_the_line_between_its_markers():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(rf"<!-- {vm.SUMMARY}:start -->\n(.*)\n<!-- {vm.SUMMARY}:end -->", readme)
    assert section and re.match(r"Last run of `scripts/version_matrix.py`, \d{4}-\d\d-\d\d: ", section.group(1))
