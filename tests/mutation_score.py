"""`make mutation`'s table: each mutated module's killed/total from mutmut's results, and its
surviving mutants (tests/mutation.md says which of them are accepted as equivalent)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

KILLED = {1, 3, 24, -24, 36, 37, 152, 255}  # a test failed, pytest broke, or it timed out
NOT_RUN = {None, 34}  # not yet tried, or skipped
NO_TEST = 33  # no test calls the function after import: counted as a survivor, named apart


def main(root: Path = Path("mutants")) -> int:
    metas = sorted(root.glob("switchboard/**/*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutation` first")
        return 1
    print(f"{'module':40} {'killed/total':>13} {'score':>7}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        tried = {name: code for name, code in codes.items() if code not in NOT_RUN}
        if not tried:
            continue
        survivors = sorted(name for name, code in tried.items() if code not in KILLED)
        killed = len(tried) - len(survivors)
        module = str(meta.relative_to(root)).removesuffix(".meta")
        print(f"{module:40} {killed:>6}/{len(tried):<6} {100 * killed / len(tried):6.1f}%")
        for name in survivors:
            print(f"    {'no test' if tried[name] == NO_TEST else 'survived'}: {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
