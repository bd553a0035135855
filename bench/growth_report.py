"""``bench.growth``'s table, verdicts and plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

GOAL = 2.0  # largest size / smallest size, p50 and p99
OPS = ("floor", "balance", "cabinet", "sync")
TIMED = OPS[1:]  # the floor is shown, not judged


def verdicts(sizes: dict[str, Any]) -> dict[str, Any]:
    """Per operation: p50 and p99 at the largest size over the smallest, and met / not met."""
    keys = sorted(sizes, key=int)
    small, large = sizes[keys[0]], sizes[keys[-1]]
    out: dict[str, Any] = {"baseline": int(keys[0]), "largest": int(keys[-1]), "goal": GOAL}
    for op in OPS:
        p50 = large[op]["p50_ms"] / small[op]["p50_ms"]
        p99 = large[op]["p99_ms"] / small[op]["p99_ms"]
        out[op] = {
            "p50_ratio": round(p50, 2),
            "p99_ratio": round(p99, 2),
            "verdict": "(floor)"
            if op not in TIMED
            else ("met" if max(p50, p99) <= GOAL else "NOT met"),
        }
    return out


def print_table(report: dict[str, Any]) -> None:
    sizes = report["sizes"]
    print(
        f"\nbench.growth {report['when']} — {report['samples']} random customers per size, "
        f"{report['total_seconds']} s in all"
    )
    head = f"{'customers':>10} {'legs':>11} {'seed s':>7}" + "".join(
        f" {op + ' p50/p99/max ms':>27}" for op in OPS
    )
    print(head)
    for key in sorted(sizes, key=int):
        s = sizes[key]
        cells = "".join(
            f" {s[op]['p50_ms']:8.2f} {s[op]['p99_ms']:8.2f} {s[op]['heaviest_ms']:8.2f} "
            for op in OPS
        )
        print(f"{int(key):>10} {s['legs']:>11} {s['seeding_seconds']:>7.0f}{cells}")
        print(
            f"{'':>30}longest history: customer {s['heaviest']['g']}, "
            f"{s['heaviest']['purchases']} purchases (the 'max' column)"
        )
    v = report["verdicts"]
    print(f"ratios {v['largest']} / {v['baseline']} customers (goal ≤ {v['goal']}×):")
    for op in OPS:
        r = v[op]
        print(f"  {op:8} p50 {r['p50_ratio']:5.2f}×  p99 {r['p99_ratio']:5.2f}×  {r['verdict']}")


def plot(sizes: dict[str, Any], path: Path) -> None:
    """p50 (solid) and p99 (dashed) per operation against customers, log x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(sizes, key=int)
    xs = [int(k) for k in keys]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for n, op in enumerate(OPS):
        colour = f"C{n}"
        ax.plot(xs, [sizes[k][op]["p50_ms"] for k in keys], "o-", color=colour, label=f"{op} p50")
        ax.plot(xs, [sizes[k][op]["p99_ms"] for k in keys], "s--", color=colour, label=f"{op} p99")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("customers (≈10 ledger legs each)")
    ax.set_ylabel("latency, ms (log)")
    ax.set_title("Kopilka: cost as data grows (bench/growth)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
