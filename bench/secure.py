"""SASL_SSL against plaintext: the riskgate worker's throughput and p99 over the local broker's
secure listener (SCRAM-SHA-512 over TLS, 127.0.0.1:9094) and over the plaintext one, the two
legs alternated round by round (who goes first rotates).

Every client of a secure leg, the worker and the bench's own producers, collector and admin,
is built by ``riskgate.kafka.clients`` from the same settings. The legs run as the ``admin``
principal, a super user, because each run makes its own topics, group and transactional ids
and the worker principal's ACLs name only fixed ones (granting each run's names with
deploy/local/kafka-acls.sh would leave them behind on the shared broker); a super user skips
the ACL checks, so their (small) cost is not in the figure. Without the listener or its files the section says
why it was not measured, and gives no number.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import e2e
from bench.equal_rate import KEEP_UP, drain_seconds
from bench.sections import _retrying, _saturated_ok, median, pair_ratios
from riskgate.kafka.clients import kafka_admin
from riskgate.settings import Settings

LOCAL = Path("/var/tmp/riskgate-local")
LISTENER = ("127.0.0.1", 9094)
CA = LOCAL / "tls" / "ca.pem"
PRINCIPAL = "admin"
PASSWORD = LOCAL / "secrets" / f"kafka-{PRINCIPAL}.password"
MODES = ("plaintext", "sasl_ssl")


def _port_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=2):
        return True
    return False


def secure_settings() -> Settings | str:
    """The SASL_SSL settings of the local broker, or why they cannot be had."""
    for path in (CA, PASSWORD):
        if not path.is_file():
            return f"{path} does not exist (the secure listener is not set up)"
    if not _port_open(*LISTENER):
        return f"nothing listens on {LISTENER[0]}:{LISTENER[1]}"
    return Settings(bootstrap_servers=f"{LISTENER[0]}:{LISTENER[1]}",
                    kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512",
                    kafka_sasl_username=PRINCIPAL,
                    kafka_sasl_password=PASSWORD.read_text().strip(), kafka_ssl_cafile=CA)


async def _handshake(s: Settings) -> str | None:
    """None when a TLS + SCRAM connection lists the topics; else what failed."""
    admin = kafka_admin(s, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), 20)
        await asyncio.wait_for(admin.list_topics(), 20)
        return None
    except Exception as exc:  # noqa: BLE001 - the reason goes into the results
        return f"SASL_SSL handshake failed: {type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def _leg(plan: e2e.Plan, base: Settings, rate: float | None) -> dict[str, Any]:
    """One saturate run, then (with a rate) one paced run: throughput and latency."""
    run, attempts = await _retrying(lambda: e2e.saturate("riskgate", plan, base=base),
                                    _saturated_ok)
    out = {"saturate": {**run, "attempts": attempts}, "rate_per_s": run.get("rate_per_s")}
    if rate:
        levels, _ = await _retrying(lambda: e2e.paced_at("riskgate", plan, [rate], base=base,
                                                         drain_s=drain_seconds(plan)),
                                    # again only when someone restarted the broker or PG
                                    lambda res: isinstance(res, list) and not res[0]["disturbed"])
        out["paced"] = levels
        if isinstance(levels, list):
            out.update({k: levels[0][k] for k in ("target_rate", "p50_ms", "p99_ms", "max_ms",
                                                  "kept_rate")})
            # A backlog's p99 says how long the run was, not how fast the listener is.
            out["kept_up"] = levels[0]["kept_rate"] >= KEEP_UP * rate
    return out


async def sasl_vs_plaintext(plan: e2e.Plan, rounds: int, rate: float | None,
                            log: Callable[[str], None]) -> dict[str, Any]:
    """Both legs in every round; ``rate`` (decisions/s) is where p99 is taken."""
    secure = secure_settings()
    why = secure if isinstance(secure, str) else await _handshake(secure)
    if why is not None:
        log(f"sasl_ssl: not measured: {why}")
        return {"measured": False, "why": why}
    assert isinstance(secure, Settings)
    bases = {"plaintext": Settings(), "sasl_ssl": secure}
    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    for r in range(rounds):
        for mode in (MODES if r % 2 == 0 else MODES[::-1]):
            runs[mode].append({**await _leg(plan, bases[mode], rate), "round": r})
            log(f"{mode} round {r}: {runs[mode][-1].get('rate_per_s')} decisions/s, "
                f"p99 {runs[mode][-1].get('p99_ms')} ms")
    col = {m: {k: [x.get(k) for x in runs[m]] for k in ("rate_per_s", "p50_ms", "p99_ms")}
           for m in MODES}
    return {
        "measured": True, "listener": f"{LISTENER[0]}:{LISTENER[1]}", "principal": PRINCIPAL,
        "mechanism": "SCRAM-SHA-512", "paced_rate": rate, "runs": runs,
        "median": {m: {k: median(v) for k, v in col[m].items()} for m in MODES},
        "ratio_rate_sasl_plain": pair_ratios(col["sasl_ssl"]["rate_per_s"],
                                             col["plaintext"]["rate_per_s"]),
        "ratio_p99_sasl_plain": pair_ratios(col["sasl_ssl"]["p99_ms"], col["plaintext"]["p99_ms"]),
    }


def table(sec: dict[str, Any]) -> list[str]:
    """The latest.md lines."""
    if not sec:
        return []
    head = "## SASL_SSL against plaintext (riskgate worker)"
    if not sec.get("measured"):
        return [head, "", f"Not measured: {sec.get('why')}", ""]
    m = sec["median"]
    paced = (f"p50/p99 paced at {sec['paced_rate']} decisions/s on both legs" if sec["paced_rate"]
             else "no p50/p99: the e2e section gave no riskgate max to pace at")
    lines = [head, "", f"Secure leg: {sec['listener']}, {sec['mechanism']} over TLS, principal "
             f"`{sec['principal']}` (a super user: no ACL checks); {paced}.", "",
             "| listener | max decisions/s | p50 ms | p99 ms |", "|---|---|---|---|"]
    kept = {mode: not sec["paced_rate"] or all(x.get("kept_up") for x in sec["runs"][mode])
            for mode in MODES}
    lines += [f"| {mode} | {m[mode]['rate_per_s']} | {m[mode]['p50_ms']} | {m[mode]['p99_ms']}"
              f"{'' if kept[mode] else ' (fell behind the paced rate: a backlog, not a latency)'} |"
              for mode in MODES]
    lines += ["", f"Ratio SASL_SSL / plaintext: throughput **{sec['ratio_rate_sasl_plain']['median']}**"
              f" (pairs {sec['ratio_rate_sasl_plain']['pairs']}), p99 "
              f"**{sec['ratio_p99_sasl_plain']['median']}** "
              f"(pairs {sec['ratio_p99_sasl_plain']['pairs']}).", ""]
    return lines
