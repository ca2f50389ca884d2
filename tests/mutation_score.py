"""`make mutation`'s table: each mutated module's killed/total from mutmut's results, then the
same less the mutants tests/mutation.md accepts as equivalent or finds not measurable, and
each survivor (marked so)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

KILLED = {1, 3, 24, -24, 36, 37, 152, 255}  # a test failed, pytest broke, or it timed out
NOT_RUN = {None, 34}  # not yet tried, or skipped
NO_TEST = 33  # no test calls the function after import: counted as a survivor, named apart
NOTES = Path(__file__).with_name("mutation.md")


def _bullets(notes: str, title: str) -> list[str]:
    section = notes.split(f"## {title}", 1)[-1].split("\n## ", 1)[0]
    return section.split("\n- ")[1:]


def accepted(notes: str) -> set[str]:
    """The mutants of the notes' "Accepted equivalent mutants": each bullet names them before
    its colon, in full (`vendors.base.x_hashed_key__mutmut_4`), then more of the same function
    by number (`_6`). Names are without the leading `switchboard.`."""
    names = set()
    for bullet in _bullets(notes, "Accepted equivalent mutants"):
        stem = ""
        for full, number, more in re.findall(r"`([^`\s]+__mutmut_)(\d+)`|`_(\d+)`",
                                             bullet.split(": ", 1)[0]):
            stem = full or stem
            names.add(f"switchboard.{stem}{number or more}")
    return names


def unmeasurable(notes: str) -> tuple[str, ...]:
    """The name prefixes of the mutants of each function "Not measurable by mutmut" names in
    full (`vendors.base.reason_map`)."""
    prefixes = []
    for bullet in _bullets(notes, "Not measurable by mutmut"):
        for name in re.findall(r"`([\w.]+)\.(\w+)`", bullet):
            prefixes.append(f"switchboard.{name[0]}.x_{name[1]}__mutmut_")
    return tuple(prefixes)


def main(root: Path = Path("mutants")) -> int:
    metas = sorted(root.glob("switchboard/**/*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutation` first")
        return 1
    notes = NOTES.read_text()
    equivalent, unmeasured = accepted(notes), unmeasurable(notes)
    print(f"{'module':40} {'killed/total':>13} {'score':>7}   {'less those':>13} {'score':>7}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        tried = {name: code for name, code in codes.items() if code not in NOT_RUN}
        if not tried:
            continue
        survivors = sorted(name for name, code in tried.items() if code not in KILLED)
        killed = len(tried) - len(survivors)
        left_out = {n for n in survivors if n in equivalent or n.startswith(unmeasured)}
        rest = len(tried) - len(left_out)
        module = str(meta.relative_to(root)).removesuffix(".meta")
        print(f"{module:40} {killed:>6}/{len(tried):<6} {100 * killed / len(tried):6.1f}%"
              f"   {killed:>6}/{rest:<6} {100 * killed / rest if rest else 100:6.1f}%")
        for name in survivors:
            state = "no test" if tried[name] == NO_TEST else "survived"
            why = ("  (accepted)" if name in equivalent else
                   "  (not measurable)" if name.startswith(unmeasured) else "")
            print(f"    {state}: {name}{why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
