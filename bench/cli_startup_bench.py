"""CLI start-up benchmark: how long `autonomy` takes before it does anything. Prints a table and writes
bench/results/cli_startup.{json,md}.

Every `autonomy` call, and every Tab of shell completion, pays for the imports of the entry module before
typer parses a flag. Each case below runs as a fresh process, `--runs` times (median and max of wall time).
With `--baseline REF` the same cases also run against REF's `runtime/` (exported with `git archive` and put
first on PYTHONPATH, so the same venv and console script load the older package), interleaved run by run with
this tree so that load from others on the shared machine hits both alike. One extra, untimed run per case
under `-X importtime` records how many modules it imported and which of the heavy packages.

Usage: python bench/cli_startup_bench.py [--runs N] [--baseline REF]   (REF: e.g. the commit before a change)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
AUTONOMY = str(Path(sys.executable).with_name("autonomy"))
RESULTS = ROOT / "bench" / "results"
# Packages that cost tens to hundreds of milliseconds each; the CLI needs none of them to start (as in
# tests/unit/cli/test_startup.py; pydantic is not one: typer imports it to convert parameters).
HEAVY = ("anthropic", "openai", "mcp", "grpc", "fastapi", "uvicorn", "kubernetes", "kubernetes_asyncio", "httpx",
         "urllib3")


@dataclass(frozen=True)
class Case:
    key: str
    what: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0
    stdout_has: str = ""  # proves the command did its job, so a broken CLI cannot post a fast time


CASES = [
    Case("python", "interpreter alone (the floor)", [PYTHON, "-c", "pass"]),
    Case("import_autonomy", "`import autonomy`", [PYTHON, "-c", "import autonomy"]),
    Case("import_cli", "`import autonomy.cli.main` (the console script's module)",
         [PYTHON, "-c", "import autonomy.cli.main"]),
    Case("help", "`autonomy --help`", [AUTONOMY, "--help"], stdout_has="zone"),
    Case("zone_list_help", "`autonomy zone list --help`", [AUTONOMY, "zone", "list", "--help"],
         stdout_has="--all-namespaces"),
    Case("complete", "bash completion of `autonomy zone <Tab>`", [AUTONOMY],
         env={"_AUTONOMY_COMPLETE": "complete_bash", "COMP_WORDS": "autonomy zone ", "COMP_CWORD": "2"},
         stdout_has="list"),
    Case("version", "`autonomy version`", [AUTONOMY, "version"], stdout_has="."),
    # The whole command up to its first cluster call: it loads the Kubernetes client, then finds no kubeconfig.
    Case("zone_list", "`autonomy zone list`, no kubeconfig (exits 5)", [AUTONOMY, "zone", "list"], exit_code=5),
]


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONPROFILEIMPORTTIME")}
    # No user config, no kubeconfig, a fixed width: the same for every run and both trees.
    env.update({"AUTONOMY_HOME": str(home / "home"), "KUBECONFIG": str(home / "no-kubeconfig"), "COLUMNS": "100"})
    return env


def run_once(case: Case, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(case.argv, env={**env, **case.env}, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != case.exit_code or case.stdout_has not in result.stdout:
        raise RuntimeError(f"{case.key}: exit {result.returncode}, stdout {result.stdout[:300]!r}, "
                           f"stderr {result.stderr[-600:]!r}")
    return elapsed


def imports_of(case: Case, env: dict[str, str]) -> dict[str, Any]:
    """Modules a case imports (one untimed run under -X importtime, which reports on stderr)."""
    result = subprocess.run(case.argv, env={**env, **case.env, "PYTHONPROFILEIMPORTTIME": "1"},
                            capture_output=True, text=True, check=False)
    names = [line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    names = [n for n in names if n != "package"]  # the header line
    tops = {n.split(".")[0] for n in names}
    return {"modules": len(names), "heavy": [h for h in HEAVY if h in tops]}


def export_tree(ref: str, into: Path) -> str:
    """`git archive` REF's runtime/ into `into`; returns REF's commit."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], capture_output=True, text=True,
                            check=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "runtime"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return commit


def check_source(env: dict[str, str], expected: Path) -> None:
    """Make sure a variant really imports the tree it claims to measure."""
    out = subprocess.run([PYTHON, "-c", "import autonomy; print(autonomy.__file__)"], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    if not Path(out).resolve().is_relative_to(expected.resolve()):
        raise RuntimeError(f"expected autonomy from {expected}, got {out}")


def summary(times: list[float]) -> dict[str, Any]:
    return {"runs_s": times, "median_s": statistics.median(times), "max_s": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", metavar="REF", help="also measure this git ref (e.g. main)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="autonomy-startup-bench-") as tmp:
        work = Path(tmp)
        variants = {"now": base_env(work)}
        check_source(variants["now"], ROOT / "runtime")
        baseline: dict[str, str] | None = None
        if args.baseline:
            (work / "baseline").mkdir()
            commit = export_tree(args.baseline, work / "baseline")
            variants["baseline"] = {**base_env(work), "PYTHONPATH": str(work / "baseline" / "runtime")}
            check_source(variants["baseline"], work / "baseline" / "runtime")
            baseline = {"ref": args.baseline, "commit": commit}
        times: dict[str, dict[str, list[float]]] = {c.key: {v: [] for v in variants} for c in CASES}
        for _ in range(args.runs):
            for case in CASES:
                for variant, env in variants.items():
                    times[case.key][variant].append(run_once(case, env))
        cases: dict[str, Any] = {}
        for case in CASES:
            cases[case.key] = {"what": case.what}
            for variant, env in variants.items():
                cases[case.key][variant] = {**summary(times[case.key][variant]), **imports_of(case, env)}

    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=False).stdout.strip()
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "2 shared cores; other builds may run at the same time"},
        "runs": args.runs,
        "now": {"commit": head, "note": "working tree at this commit"},
        "baseline": baseline,
        "heavy_packages": list(HEAVY),
        "cases": cases,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cli_startup.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# CLI start-up", ""]
    if baseline:
        named = "" if baseline["commit"].startswith(baseline["ref"]) else f" (`{baseline['ref']}`)"
        lines += [f"Wall time of a fresh process, median of {args.runs} runs; before = commit "
                  f"{baseline['commit'][:10]}{named}, after = this tree (commit {head[:10]}).", "",
                  "| what | before | after | after, max | speed-up | modules before -> after | heavy after |",
                  "|---|---|---|---|---|---|---|"]
        for case in CASES:
            c = cases[case.key]
            before, now = c["baseline"], c["now"]
            lines.append(f"| {case.what} | {before['median_s']:.2f} s | {now['median_s']:.2f} s | "
                         f"{now['max_s']:.2f} s | {before['median_s'] / now['median_s']:.1f}x | "
                         f"{before['modules']} -> {now['modules']} | {', '.join(now['heavy']) or 'none'} |")
    else:
        lines += [f"Wall time of a fresh process, median of {args.runs} runs.", "",
                  "| what | median | max | modules | heavy packages imported |", "|---|---|---|---|---|"]
        for case in CASES:
            now = cases[case.key]["now"]
            lines.append(f"| {case.what} | {now['median_s']:.2f} s | {now['max_s']:.2f} s | {now['modules']} | "
                         f"{', '.join(now['heavy']) or 'none'} |")
    if baseline:
        lines += ["", f"Before, the console script's module alone imported "
                  f"{', '.join(cases['import_cli']['baseline']['heavy'])}."]
    lines += ["", f"Heavy packages: {', '.join(HEAVY)}.",
              f"Machine: {os.cpu_count()} cores shared with other work; Python {platform.python_version()}."]
    (RESULTS / "cli_startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
