"""bench/ledger and bench/sync on two revisions of Kopilka, alternating, in one run.

Run ``python -m bench.compare BEFORE [AFTER] [--rounds N] [--json out.json]`` from a checkout.
Each revision is checked out into a temporary git worktree and run with this checkout's virtual
environment, its ``src`` first on ``PYTHONPATH`` (so ``kopilka serve`` started by bench/sync runs
that revision too). Rounds alternate BEFORE, AFTER, BEFORE, AFTER… so drift on a shared machine
falls on both sides; each bench keeps its own baseline (pgbench, the bound 2/r), and the table
compares the ratios to those baselines, not raw seconds.

Measured: bench/ledger's four phases (ratio to pgbench) with ``--seconds 5``, and bench/sync's
``kopilka serve`` runs (comments on and off: requests per deal, 503s, fraction of the bound 2/r)
with the baselines left out (``--naive-deals 0 --fast-deals 0 --no-apart``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(tree: Path, module: str, args: list[str], out: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(tree / "src") + os.pathsep + str(tree)}
    subprocess.run(
        [sys.executable, "-m", module, *args, "--json", str(out)],
        cwd=tree,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    loaded: dict[str, object] = json.loads(out.read_text())
    return loaded


def measure(tree: Path, work: Path) -> dict[str, float]:
    """One round on one tree: the figures the comparison is about."""
    ledger = _run(tree, "bench.ledger", ["--seconds", "5"], work / "ledger.json")
    sync = _run(
        tree,
        "bench.sync",
        ["--naive-deals", "0", "--fast-deals", "0", "--no-apart"],
        work / "sync.json",
    )
    figures: dict[str, float] = {}
    for phase in ledger["phases"]:  # type: ignore[attr-defined]
        figures[f"ledger: {phase['name']} (of pgbench)"] = float(phase["ratio"])
    for row in sync["results"]:  # type: ignore[attr-defined]
        name = row["name"]
        figures[f"sync: {name}, of 2/r"] = float(row["fraction_steady"])
        figures[f"sync: {name}, requests/deal"] = float(row["requests_per_deal"])
        figures[f"sync: {name}, 503s"] = float(row["rejected_503"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", help="the revision to compare against")
    parser.add_argument("after", nargs="?", default="HEAD", help="the revision measured (HEAD)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per revision (2)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    opts = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {opts.before: [], opts.after: []}
    with tempfile.TemporaryDirectory(prefix="kopilka-compare-") as tmp:
        trees = {}
        for rev in (opts.before, opts.after):
            tree = Path(tmp) / rev.replace("/", "_")
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(tree), rev],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
            trees[rev] = tree
        try:
            for n in range(opts.rounds):
                for rev, tree in trees.items():
                    work = Path(tmp) / f"out-{n}-{rev.replace('/', '_')}"
                    work.mkdir()
                    print(f"round {n + 1}: {rev} …", flush=True)
                    results[rev].append(measure(tree, work))
        finally:
            for tree in trees.values():
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)],
                    cwd=ROOT,
                    check=False,
                    capture_output=True,
                )
    names = list(results[opts.before][0])
    print(f"\n{'figure':58} {opts.before[:10]:>12} {opts.after[:10]:>12}   after/before")
    for name in names:
        before = statistics.mean(r[name] for r in results[opts.before])
        after = statistics.mean(r[name] for r in results[opts.after])
        ratio = f"{after / before:.2f}" if before else "-"
        print(f"{name:58} {before:12.3f} {after:12.3f}   {ratio}")
    if opts.json:
        opts.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
