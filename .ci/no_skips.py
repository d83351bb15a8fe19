"""Fail a CI run in which any test was skipped, or none ran.

    python .ci/no_skips.py REPORT.xml   (pytest's --junitxml report)

CI installs every tool the machine-dependent tests need (Chromium, node,
npm), so a skipped test there means a tool is missing: it must fail, not
pass quietly. Expected failures (xfail) are not skips.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def skipped(report: str) -> tuple[int, list[str]]:
    """(tests run, ["test: reason"] for each skipped test) in a report."""
    root = ET.parse(report).getroot()
    ran, found = 0, []
    for case in root.iter("testcase"):
        ran += 1
        for skip in case.iter("skipped"):
            if skip.get("type") != "pytest.xfail":
                found.append(f"{case.get('classname')}::{case.get('name')}: "
                             f"{skip.get('message')}")
    return ran, found


def main(argv: list[str]) -> int:
    ran, found = skipped(argv[1])
    if not ran:
        print("CI: no tests ran", file=sys.stderr)
        return 1
    if found:
        print(f"CI: {len(found)} of {ran} tests skipped; CI installs every tool the "
              "tests need, so each skip is a failure here:", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"CI: {ran} tests ran, none skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
