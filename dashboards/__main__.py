"""`python -m dashboards [--check]`: write the dashboards' JSON and docs, or check them."""

from __future__ import annotations

import argparse
import sys

from dashboards.render import ROOT, expected_files


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards")
    parser.add_argument("--check", action="store_true", help="fail if a file differs")
    args = parser.parse_args()
    stale = []
    for path, text in expected_files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(str(path.relative_to(ROOT)))
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check and stale:
        print(f"stale, run `python -m dashboards`: {', '.join(stale)}", file=sys.stderr)
        return 1
    print(("written: " if stale else "up to date: ") + ", ".join(stale or ["all"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
