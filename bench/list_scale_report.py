"""The tables of bench/list_scale.py: per database, schema (with or without the list's indexes) and user, each
case's queries and median time at every size, and the ratio to its time at the smallest size."""

import time

GOAL = 3.0
TITLES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
VARIANTS = {"indexed": "with the list's indexes (migrations 0006 and 0007)", "no list indexes": "without them (0005)"}


def _cell(ms: float, base: float) -> str:
    ratio = ms / base
    shown = f"{ratio:.1f}×"
    return f"{ms:.1f} ms ({'**' + shown + '**' if ratio > GOAL else shown})"


def table(results: dict, kind: str, variant: str, role: str, sizes: list[int]) -> list[str]:
    heads = " | ".join(f"{size:,}" for size in sizes)
    lines = [f"| Case | Queries | {heads} |", "|---" * (len(sizes) + 2) + "|"]
    first = results[(kind, sizes[0])]["variants"][variant]
    for key in first:
        if not key.startswith(f"{role}|"):
            continue
        found = [results[(kind, size)]["variants"][variant][key] for size in sizes]
        queries = " / ".join(str(entry["queries"]) for entry in found)
        cells = " | ".join(_cell(entry["ms"], found[0]["ms"]) for entry in found)
        lines.append(f"| {key.split('|', 1)[1]} | {queries} | {cells} |")
    return lines + [""]


def summary(results: dict, kind: str, variant: str, sizes: list[int]) -> str:
    first, last = (results[(kind, size)]["variants"][variant] for size in (sizes[0], sizes[-1]))
    over = [key.replace("|", ": ") for key in first if last[key]["ms"] / first[key]["ms"] > GOAL]
    same = all(
        len({results[(kind, size)]["variants"][variant][key]["queries"] for size in sizes}) == 1 for key in first
    )
    return (
        f"Queries the same at every size: **{'yes' if same else 'no'}**. "
        f"Over {GOAL:g}× at {sizes[-1]:,}: **{len(over)} of {len(first)}**"
        + (f" ({'; '.join(over)})" if 0 < len(over) <= 8 else "")
    )


def section(results: dict, databases: list[str], sizes: list[int], runs: int, machine: str) -> str:
    lines = ["<!-- list:scale:begin -->", f"## Connections list at scale ({time.strftime('%Y-%m-%d %H:%M')})", ""]
    lines.append(
        f"`bench/list_scale.py` (see README.md). Machine: {machine}. The page rendered through Django's test Client "
        f"(session, middleware, template), median of {runs} requests per case after one whose queries are counted; "
        f"in brackets the ratio to the time at {sizes[0]:,} connections (goal: at most {GOAL:g}×, over it in bold). "
        "Queries are given per size. “page 100” and “last page” are the last page wherever there are fewer pages."
    )
    lines.append("")
    for kind in databases:
        for variant, label in VARIANTS.items():
            lines += [f"### {TITLES[kind]}, {label}", "", summary(results, kind, variant, sizes), ""]
            for role in ("administrator", "plain user"):
                lines += [f"{role.capitalize()}:", "", *table(results, kind, variant, role, sizes)]
    lines.append("<!-- list:scale:end -->")
    return "\n".join(lines)
