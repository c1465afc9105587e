"""The peers' part of benchmarks/results.md: each case's mixfit rows (warm: stanli, the default, and
nutpie over stanli's programs where it ran) beside its peers' rows from the same run, and each
mixfit engine's ratios against each peer."""

from __future__ import annotations

MIXFIT_ENGINES = ("stanli", "nutpie")  # the engines set beside the peers


def cell(value, digits: int | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if digits is not None else str(value)


def markdown(peers: list[dict], mixfit: list[dict]) -> str:
    ours_by_case: dict[str, list[dict]] = {}
    for r in mixfit:
        if r["engine"] in MIXFIT_ENGINES:
            ours_by_case.setdefault(r["case"], []).append(r)
    lines = [
        ("mixfit (warm) and its peers, 4 chains x 1000 warmup + 1000 draws, same run (`--peers`):"),
        "",
        (
            "| case | run | end to end s | sampling s | min bulk ESS | ESS/s | max R-hat | "
            "divergences | mean tree depth | peak memory GB | status | date | load average "
            "start / end |"
        ),
        "|" + " --- |" * 13,
    ]
    for case in dict.fromkeys(r["case"] for r in peers):
        ours = [
            {"peer": f"mixfit {r['engine']}", "status": "ran", **r}
            for r in ours_by_case.get(case, [])
        ]
        rows = [(r, "warm_seconds") for r in ours]
        rows += [(r, "wall_seconds") for r in peers if r["case"] == case]
        for r, wall in rows:
            load = r.get("load_average") or {}
            lines.append(
                f"| {case} | {r['peer']} | {cell(r.get(wall))} | {cell(r.get('sampling_seconds'))} "
                f"| {cell(r.get('min_bulk_ess'), 0)} | {cell(r.get('ess_per_second'))} "
                f"| {cell(r.get('max_rhat'))} | {cell(r.get('divergences'))} "
                f"| {cell(r.get('mean_tree_depth'))} | {cell(r.get('peak_memory_gb'))} "
                f"| {r['status']} | {r.get('date', '-')} "
                f"| {cell(load.get('start', [None])[0])} / {cell(load.get('end', [None])[0])} |"
            )
    lines += [
        "",
        (
            "mixfit against each peer, same case (ratios above 1 favour mixfit; a peer stopped at "
            "the cap took longer than the cap):"
        ),
        "",
        "| case | mixfit | peer | end to end (peer / mixfit) | ESS/s (mixfit / peer) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in peers:
        if r["status"] not in ("ran", "saved, not run", "cap"):
            continue
        peer = r["peer"] + (" (saved, not run)" if r["status"] == "saved, not run" else "")
        for ours in ours_by_case.get(r["case"], []):
            start = f"| {r['case']} | {ours['engine']} | {peer}"
            if r["status"] == "cap":
                lines.append(f"{start} | > {r['cap_seconds'] / ours['warm_seconds']:.1f} | - |")
                continue
            lines.append(
                f"{start} | {r['wall_seconds'] / ours['warm_seconds']:.1f} "
                f"| {ours['ess_per_second'] / max(r['ess_per_second'], 1e-9):.1f} |"
            )
    return "\n".join(lines) + "\n"
