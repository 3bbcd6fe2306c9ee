"""`make test-sabotage`: the isolation suite passes as generated and fails exactly where a protection is off.

    python -m tests.isolation.check_sabotage [--reports DIR] [SWITCH ...]

Runs `pytest tests/isolation` once as generated, then once per switch of tests/isolation/sabotage.py's
SABOTAGES with ISOLATION_SABOTAGE=<switch> (all of them, or the SWITCHes named), on one test database
(created afresh by the first run, `--create-db --reuse-db`, and reused by the others; DATABASE_URL and
REDIS_URL as for `make test`), and compares the JUnit XML reports, where tests/isolation/conftest.py names
each test's guard markers:

- as generated, every test passes;
- under a switch whose marker is `guards_<...>`, exactly the tests carrying that marker fail (at least one
  must carry it): a guard that still passes guards nothing, and any other failure means the switch broke
  more than its protection;
- under a switch whose marker is None (a protection another layer backs up), every test still passes;
- every run runs the same tests.

Prints one line per run, `plain: ...` and `switch <name> [<marker>]: ... -> ok` (or `-> MISMATCH`, followed
by the tests at fault and the end of that run's pytest output), the guards that failed as they must, and a
last line `sabotage check: ok ...` or `sabotage check: FAILED ...`. Exit status 0 when everything holds,
1 on any mismatch, 2 for an unknown switch name. --reports DIR keeps the XML reports and pytest logs
(default: a temporary directory, removed at the end).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .sabotage import ENV_VARIABLE, SABOTAGES

PROJECT_DIR = Path(__file__).resolve().parents[2]
SUITE = "tests/isolation"
LOG_TAIL = 30  # lines of a mismatched run's pytest output to print


@dataclass
class Outcome:
    """One run of the suite: node ids (parameters stripped) that passed and failed, and the guard markers
    of every test."""

    passed: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    guards: dict[str, set[str]] = field(default_factory=dict)  # marker -> node ids

    @property
    def ran(self) -> set[str]:
        return self.passed | self.failed


def report_read(path: Path) -> Outcome:
    """The Outcome in the JUnit XML report at `path`; errors count as failures, skips as neither. A test
    parametrized several times fails as a whole when one of its cases fails."""
    outcome = Outcome()
    root = ET.parse(path).getroot()  # noqa: S314  # pytest's own report of this run
    for case in root.iter("testcase"):
        module = case.get("classname", "").split("::")[0]
        node = f"{module.replace('.', '/')}.py::{case.get('name', '').split('[')[0]}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome.failed.add(node)
        elif case.find("skipped") is None:
            outcome.passed.add(node)
        for prop in case.iter("property"):
            if prop.get("name") == "guards":
                outcome.guards.setdefault(prop.get("value", ""), set()).add(node)
    outcome.passed -= outcome.failed
    return outcome


def suite_run(switch: str, reports: Path, *, first: bool) -> tuple[Outcome | None, Path, float]:
    """Run the isolation suite with ISOLATION_SABOTAGE=`switch` ("" for none); return its Outcome (None when
    pytest did not finish with a report), the path of its output log and the seconds it took."""
    label = switch or "plain"
    report, log = reports / f"{label}.xml", reports / f"{label}.log"
    command = [sys.executable, "-m", "pytest", SUITE, "-p", "no:cacheprovider", "-q", "-o", "junit_family=xunit1"]
    command += ["--create-db", "--reuse-db"] if first else ["--reuse-db"]
    command.append(f"--junitxml={report}")
    env = {**os.environ, ENV_VARIABLE: switch}
    started = time.monotonic()
    with log.open("w") as output:
        result = subprocess.run(command, cwd=PROJECT_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    if result.returncode not in (0, 1) or not report.exists():
        with log.open("a") as output:
            output.write(f"\npytest exited with status {result.returncode}\n")
        return None, log, seconds
    return report_read(report), log, seconds


def log_tail(log: Path) -> list[str]:
    return [f"    | {line}" for line in log.read_text(errors="replace").splitlines()[-LOG_TAIL:]]


def listed(title: str, nodes: set[str]) -> list[str]:
    return [f"    {title}: {node}" for node in sorted(nodes)]


def switch_verdict(switch: str, plain: Outcome, outcome: Outcome | None) -> tuple[str, list[str], bool]:
    """(summary, detail lines, ok) for the run under `switch`, compared with the plain run."""
    marker = SABOTAGES[switch]
    guards = plain.guards.get(marker, set()) if marker else set()
    if outcome is None:
        return "pytest did not finish", [], False
    problems: list[str] = []
    if marker and not guards:
        problems.append(f"    no test carries the marker {marker}: the switch proves nothing")
    problems += listed("still passing (this guard guards nothing)", guards - outcome.failed)
    problems += listed("failing, not a guard (the switch broke more)", outcome.failed - guards)
    if outcome.ran != plain.ran:
        problems += listed("ran only as generated", plain.ran - outcome.ran)
        problems += listed("ran only under the switch", outcome.ran - plain.ran)
    caught = guards & outcome.failed
    if marker:
        summary = f"{len(caught)} of {len(guards)} guards failed, {len(outcome.failed - guards)} other tests failed"
    else:
        summary = f"no guards: {len(outcome.failed)} tests failed, {len(outcome.passed)} passed"
    return summary, problems or listed("failed as it must", caught), not problems


def main(argv: list[str] | None = None) -> int:
    """Run the check (see the module docstring); return the exit status."""
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m tests.isolation.check_sabotage", description=summary)
    parser.add_argument("switches", nargs="*", metavar="SWITCH", help=f"default: all of {', '.join(SABOTAGES)}")
    parser.add_argument("--reports", type=Path, help="keep the JUnit XML reports and pytest logs in this directory")
    options = parser.parse_args(argv)
    unknown = [name for name in options.switches if name not in SABOTAGES]
    if unknown:
        parser.error(f"unknown switch {', '.join(unknown)}; expected one of {', '.join(SABOTAGES)}")
    switches = options.switches or list(SABOTAGES)

    with tempfile.TemporaryDirectory(prefix="sabotage-") as temporary:
        reports = options.reports or Path(temporary)
        reports.mkdir(parents=True, exist_ok=True)
        plain, log, seconds = suite_run("", reports, first=True)
        if plain is None or plain.failed or not plain.passed:
            state = f"{len(plain.passed)} passed, {len(plain.failed)} failed" if plain else "pytest did not finish"
            print(f"plain: {state} ({seconds:.0f} s) -> MISMATCH", flush=True)
            print("\n".join([*listed("failing as generated", plain.failed if plain else set()), *log_tail(log)]))
            print("sabotage check: FAILED: the isolation suite does not pass as generated")
            return 1
        print(f"plain: {len(plain.passed)} passed, 0 failed ({seconds:.0f} s) -> ok", flush=True)

        mismatched: list[str] = []
        for switch in switches:
            outcome, log, seconds = suite_run(switch, reports, first=False)
            summary, details, ok = switch_verdict(switch, plain, outcome)
            marker = SABOTAGES[switch] or "none: every test must pass"
            print(f"switch {switch} [{marker}]: {summary} ({seconds:.0f} s) -> {'ok' if ok else 'MISMATCH'}")
            for line in details if ok else [*details, *log_tail(log)]:
                print(line, flush=True)
            if not ok:
                mismatched.append(switch)

    if mismatched:
        print(f"sabotage check: FAILED: {', '.join(mismatched)} (rerun one: {ENV_VARIABLE}=<switch> pytest {SUITE})")
        return 1
    print(f"sabotage check: ok, the plain run and {len(switches)} switches: {', '.join(switches)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
