"""Goals and the markdown table written to ``bench/results/latest.md``."""

from __future__ import annotations

from typing import Any

from bench import equal_rate, footprint, secure, stages, tuning
from bench.goals import evaluate as goals
from bench.replay import replay_table
from bench.shadow import shadow_table

__all__ = ["goals", "markdown"]


def _fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def markdown(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    lines = [f"# riskgate benchmark ({meta.get('started', '?')})", "",
             f"Machine: {meta.get('cpus')} cores shared with the broker, PostgreSQL and other "
             f"jobs; Python {meta.get('python')}; commit {meta.get('commit')}. Medians of "
             f"{meta.get('rounds')} alternated rounds; ratios taken pair by pair within a round.",
             ""]
    lines += _core_table(results.get("core", {}))
    lines += _e2e_tables(results.get("e2e", {}))
    lines += footprint.table((results.get("e2e") or {}).get("bytes_per_decision"))
    lines += stages.table(results.get("stages", {}))
    lines += secure.table(results.get("secure", {}))
    lines += tuning.table(results.get("tuning", {}), _fmt)
    lines += _growth_tables(results.get("growth", {}), results.get("scale", {}))
    lines += _profile_table(results.get("profile", {}))
    lines += shadow_table(results.get("shadow", {}))
    lines += replay_table(results.get("replay", {}))
    lines += ["## Goals", "", "| goal | measured | met | |", "|---|---|---|---|"]
    for g in results.get("goals", []):
        met = {True: "yes", False: "**no**", None: "n/a"}[g["met"]]
        lines.append(f"| {g['goal']} | {_fmt(g['value'], 3)} | {met} | {g['gap']} |")
    if results.get("errors"):
        lines += ["", "## Errors", ""] + [f"- {e}" for e in results["errors"]]
    return "\n".join(lines) + "\n"


def _core_table(c: dict[str, Any]) -> list[str]:
    if not c:
        return []
    m = c["median"]
    naut = c.get("nautilus", {})
    return [
        f"## In process (µs per decision, median of {len(c.get('runs', []))} alternated rounds)", "",
        "| measure | µs |", "|---|---|",
        f"| full chain with trace ({c.get('full_chain_source')}) | "
        f"{_fmt(m.get('core_bench_chain_us') or m.get('chain_us'), 2)} |",
        f"| chain on the end-to-end workload | {_fmt(m.get('chain_us'), 2)} |",
        f"| bytes -> decode -> chain -> encode action + target | {_fmt(m.get('bytes_to_bytes_us'), 2)} |",
        f"| worker handler (decode, chain, payloads, stored rows; no I/O) | {_fmt(m.get('handler_us'), 2)} |",
        f"| NautilusTrader {naut.get('version', '')} RiskEngine, one SubmitOrder | "
        f"{_fmt(m.get('nautilus_us'), 2) if naut.get('available') else naut.get('error', 'n/a')} |",
        f"| ratio chain / Nautilus | {_fmt(c['ratio_chain_vs_nautilus']['median'], 2)} |",
        f"| ratio bytes-to-bytes / Nautilus | {_fmt(c['ratio_bytes_vs_nautilus']['median'], 2)} |",
        "",
    ]


def _e2e_tables(e: dict[str, Any]) -> list[str]:
    if not e:
        return []
    plan = e.get("plan", {})
    lines = [f"## End to end on the broker ({plan.get('partitions')} partitions, "
             f"{plan.get('decisions')} decisions pre-loaded, {plan.get('portfolios')} portfolios)", "",
             "| system | max decisions/s | runs | pre-loaded | 10-90% windows, s "
             "| CPU % system / broker / PG / other |",
             "|---|---|---|---|---|---|"]
    names = {"riskgate": "(a) riskgate worker, exactly-once",
             "riskgate_confluent": "(a') riskgate worker, exactly-once, confluent-kafka client "
                                   "(one KIP-447 producer per worker)",
             "passthrough": "(b) bare aiokafka transactional pass-through",
             "passthrough_confluent": "(b') bare confluent-kafka (librdkafka) transactional "
                                      "pass-through, one producer for all partitions (KIP-447)",
             "faust": "(c) faust-streaming, same chain, exactly_once"}
    for system, runs in e.get("saturate", {}).items():
        cpu = next((r["cpu_pct"] for r in runs if "cpu_pct" in r), {})
        lines.append(f"| {names.get(system, system)} | {_fmt(e['max_rate'].get(system))} | "
                     f"{', '.join(_fmt(r.get('rate_per_s'), 0) for r in runs)} | "
                     f"{_fmt(next((r['decisions'] for r in runs if 'decisions' in r), None), 0)} | "
                     f"{', '.join(_fmt(r.get('window_s'), 1) for r in runs)} | "
                     f"{cpu.get('system')} / {cpu.get('broker')} / {cpu.get('postgres')} / "
                     f"{cpu.get('other')} |")
    conf = e.get("ratio_a_b_confluent") or {"median": None, "pairs": []}
    lines += ["", f"Ratio a/b (riskgate / aiokafka pass-through): "
              f"**{_fmt(e['ratio_a_b']['median'], 2)}** (pairs {e['ratio_a_b']['pairs']}); "
              f"ratio a/b' (riskgate / confluent-kafka pass-through): **{_fmt(conf['median'], 2)}** "
              f"(pairs {conf['pairs']}); ratio a/c (riskgate / faust): "
              f"**{_fmt(e['ratio_a_c']['median'], 2)}** (pairs {e['ratio_a_c']['pairs']}).", "",
              *_confluent_ratios(e),
              "### Latency at fractions of each system's own max", "",
              "| system | load | target/s | sent/s | delivered/s | p50 ms | p99 ms | max ms |",
              "|---|---|---|---|---|---|---|---|"]
    for system, rows in e.get("latency", {}).items():
        for row in rows:
            lines.append(f"| {system} | {int(row['level'] * 100)}% | {_fmt(row['target_rate'], 0)} | "
                         f"{_fmt(row.get('sent_rate'), 0)} | "
                         f"{_fmt(row['delivered_rate'], 0)} | {_fmt(row['p50_ms'])} | "
                         f"{_fmt(row['p99_ms'])} | {_fmt(row['max_ms'])} |")
    return [*lines, "", *equal_rate.table(e.get("equal_rate") or [], _fmt)]


def _confluent_ratios(e: dict[str, Any]) -> list[str]:
    """The ratios of riskgate on the confluent-kafka client (a'), when it was measured."""
    labels = (("ratio_rc_b", "a'/b (aiokafka pass-through)"),
              ("ratio_rc_b_confluent", "a'/b' (confluent-kafka pass-through)"),
              ("ratio_rc_c", "a'/c (faust)"), ("ratio_rc_a", "a'/a (riskgate on aiokafka)"))
    present = [(label, e[key]) for key, label in labels if key in e]
    if not present:
        return []
    parts = [f"{label} **{_fmt(r['median'], 2)}** (pairs {r['pairs']})" for label, r in present]
    return ["Riskgate on the confluent-kafka client: " + "; ".join(parts) + ".", ""]


def _growth_tables(g: dict[str, Any], s: dict[str, Any]) -> list[str]:
    lines = []
    if g:
        lines += ["## Growth (µs per decision)", "",
                  "| positions per portfolio | chain | bytes to bytes | core_bench.py chain |",
                  "|---|---|---|---|"]
        lines += [f"| {r['positions']:,} | {_fmt(r['chain_us'], 2)} | {_fmt(r['bytes_to_bytes_us'], 2)} "
                  f"| {_fmt(r['core_bench_chain_us'], 2)} |" for r in g["positions"]]
        lines += ["", "| portfolios | chain |", "|---|---|"]
        lines += [f"| {r['portfolios']:,} | {_fmt(r['chain_us'], 2)} |" for r in g["portfolios"]]
        lines.append("")
    if s:
        lines += ["## Workers x partitions (riskgate; 2 cores shared with the broker: contention, "
                  "not scale-out)", "",
                  "| shape | decisions/s | CPU % worker(s) | broker | PostgreSQL | driver | other "
                  "| machine (of 200) | RSS MiB per worker |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['shape']} | {_fmt(r['rate_per_s'])} | {_fmt(r['cpu_system_pct'])} | "
                  f"{_fmt(r['cpu_broker_pct'])} | {_fmt(r['cpu_postgres_pct'])} | "
                  f"{_fmt(r['cpu_driver_pct'])} | {_fmt(r['cpu_other_pct'])} | "
                  f"{_fmt(r['cpu_machine_pct'])} | {_fmt(r['rss_mib_per_worker'])} |"
                  for r in s["summary"]]
        lines.append("")
    return lines


def _profile_table(p: dict[str, Any]) -> list[str]:
    if not p:
        return []
    if not p.get("available"):
        return ["## Hot spots", "", f"Not profiled: {p.get('error')}", ""]
    lines = ["## Hot spots (py-spy, worker under saturation, share of busy samples)", "",
             "| # | function (self time) | % |", "|---|---|---|"]
    lines += [f"| {i} | `{row['function']}` | {row['pct']} |"
              for i, row in enumerate(p["self"], 1)]
    lines += ["", "| stage (inclusive) | % |", "|---|---|"]
    lines += [f"| {row['stage']} | {row['pct']} |" for row in p.get("stages", [])]
    return [*lines, ""]
