"""What-if over history on the real broker and database: the same stored decisions decided again
under a candidate config, in counterfactual and path modes, with the HTML report opened in
headless Chromium, the sandbox topics read back with confluent-kafka, and audit why rebuilt by
replay (docs/replay.md)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from riskgate.core import PROFILES
from riskgate.core.limits import UPPER_CAPS
from riskgate.kafka.admin import delete_topics
from tests.integration.test_replay_evidence import replay_cli, wait_for_row
from tests.support import builders as b
from tests.support.kafka import collect, produce, running_worker, topics

pytestmark = pytest.mark.integration

QUANTITIES = (3.0, 8.0, 9.0, 4.0, 6.0)  # at price 100: $300 .. $900, all under NORMAL's $1000 cap


def utc(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def lines_of(done: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout.splitlines()


def write(path: Path, body: dict) -> Path:
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    return path


def tight_everywhere() -> dict:
    """Every upper cap NORMAL sets, halved, and a higher confidence floor: at least as tight."""
    normal = PROFILES["NORMAL"]
    limits = {n: getattr(normal, n) / 2 for n in UPPER_CAPS if getattr(normal, n) is not None}
    limits["max_open_positions"] = int(limits["max_open_positions"])
    limits["min_confidence"] = 0.8
    return {"scope": "GLOBAL", "limits": limits}


def read_sandbox(s, topic: str, expected: int) -> list[dict]:
    """Read a sandbox topic with confluent-kafka (librdkafka), read_committed, no commits."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": s.bootstrap_servers, "group.id": f"check-{topic}",
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    found, end = [], time.time() + 30
    try:
        while time.time() < end and len(found) < expected:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                found.append(json.loads(message.value()))
        time.sleep(0.5)
        for message in consumer.consume(100, 1.0):
            if message.error() is None:
                found.append(json.loads(message.value()))
    finally:
        consumer.close()
    return found


def chromium_dom(page: Path, screenshot: Path) -> str:
    """The page as headless Chromium renders it (and a screenshot to look at)."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={page.parent / 'chromium-profile'}"]
    uri = page.resolve().as_uri()
    subprocess.run(["chromium", *flags, f"--screenshot={screenshot}", "--window-size=1200,2400",
                    uri], capture_output=True, timeout=120, check=True)
    done = subprocess.run(["chromium", *flags, "--dump-dom", uri], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout


async def decide_live(s, portfolio_id: str, ticker: str, decisions: list[dict], now: float) -> None:
    """One market record, one snapshot, then ``decisions`` through a running worker, on topics
    of their own (deleted afterwards: what-if reads only the stored evidence)."""
    p, tk = portfolio_id.encode(), ticker.encode()
    async with topics(s):
        await produce(s, s.topics.market, [(tk, b.dumps(b.market(ticker, as_of=now)))])
        await produce(s, s.topics.snapshots, [(p, b.dumps(b.snapshot(portfolio_id, as_of=now)))])
        async with running_worker(s):
            await wait_for_row(s, "SELECT 1 FROM snapshot_history WHERE portfolio_id=$1",
                               portfolio_id)
            await produce(s, s.topics.proposed, [(p, b.dumps(d)) for d in decisions])
            await collect(s, s.topics.actions, len(decisions))


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is needed for the HTML report test (.ci/run installs it)")
    return path


class TestWhatIf:
    @pytest.mark.timeout(600)
    async def test_candidates_over_a_live_window(self, test_settings, unique, tmp_path, chromium):
        """The live profile as a candidate changes nothing; one tighter limit caps exactly the
        decisions above it; a candidate tighter on every limit never approves more; path mode
        charts both books in an HTML page Chromium renders; the sandbox gets every replayed
        output; audit why shows every constraint's verdict; bad candidates exit 2."""
        s, now = test_settings, time.time()
        p, tk = f"P{unique}", f"W{unique[:6]}".upper()
        ds = [b.proposal(f"D{unique}-{i}", p, tk, qty=q, created_at=now)
              for i, q in enumerate(QUANTITIES)]
        await decide_live(s, p, tk, ds, now)
        window = ("--from", utc(now - 5), "--to", utc(time.time() + 5), "--portfolio", p)
        cap = write(tmp_path / "cap.yaml", {"limits": {"per_name_weight_cap": 0.0005}})
        tight = write(tmp_path / "tight.yaml", tight_everywhere())
        run = lambda *a: asyncio.to_thread(replay_cli, s, *window, *a)  # noqa: E731
        same = await run("--profile", "NORMAL")
        capped = await run("--limits", str(cap), "--report", str(tmp_path / "cap.ndjson"))
        tighter = await run("--limits", str(tight), "--report", str(tmp_path / "tight.ndjson"))
        path = await run("--limits", str(cap), "--mode", "path", "--html",
                         str(tmp_path / "report.html"), "--to-topic", f"sandbox{unique}")
        why = await asyncio.to_thread(_riskgate, s, "audit", "why", ds[2]["decision_id"])
        # The live config as the candidate: nothing changes, and the live replay is clean.
        assert same.returncode == 0, same.stdout + same.stderr
        assert lines_of(same)[0].endswith("legs=5 changed=0 approvals_lost=0 approvals_gained=0")
        assert lines_of(same)[-1] == "replay: decisions=5 identical=5 different=0 unreplayable=0"
        # One changed limit ($500 a name at $1M equity), against the live book: 3 -> 8 is capped
        # at 5; 8 -> 9 only adds to a name already over the cap, so it is rejected (the live
        # book held 8); 9 -> 4 reduces and passes; 4 -> 6 is capped at 5.
        out = lines_of(capped)
        assert capped.returncode == 0, capped.stdout + capped.stderr
        assert out[0].endswith("legs=5 changed=3 approvals_lost=1 approvals_gained=0"), out
        assert "  OK→CAPPED 2 (PER_NAME_WEIGHT_CAP 2)" in out
        assert "  OK→REJECTED 1 (PER_NAME_WEIGHT_CAP 1)" in out
        changes = [json.loads(x) for x in (tmp_path / "cap.ndjson").read_text().splitlines()]
        assert sorted(c["decision_id"] for c in changes) == sorted(
            d["decision_id"] for d, q in zip(ds, QUANTITIES, strict=True) if q * 100 > 500)
        assert sorted(c["candidate"]["target_position"] for c in changes) == [5.0, 5.0, 8.0]
        # At least as tight on every limit: no approval gained, no target beyond the live one.
        assert tighter.returncode == 0, tighter.stdout + tighter.stderr
        assert "approvals_gained=0" in lines_of(tighter)[0]
        for c in map(json.loads, (tmp_path / "tight.ndjson").read_text().splitlines()):
            live, cand = c["live"], c["candidate"]
            current = live["target_position"] - live["delta_position"]
            lo, hi = sorted((current, live["target_position"]))
            assert lo - 1e-9 <= cand["target_position"] <= hi + 1e-9, c
        # Path mode: the HTML report has both charts, rendered by Chromium, offline.
        assert path.returncode == 0, path.stdout + path.stderr
        page = (tmp_path / "report.html").read_text()
        # Offline: no address anywhere but the SVG namespace names, which are never fetched.
        assert "http" not in re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
        dom = chromium_dom(tmp_path / "report.html", tmp_path / "report.png")
        for chart in ("exposure-chart", "reasons-chart"):
            assert f'<figure id="{chart}"><svg' in dom, chart
        assert (tmp_path / "report.png").stat().st_size > 10_000
        # The sandbox holds the candidate's outputs, never the live topics.
        sandbox = next(x for x in lines_of(path) if x.startswith("sandbox:"))
        assert sandbox.startswith(f"sandbox: sandbox{unique}.{s.topics.actions}=5 "), sandbox
        sandboxes = [f"sandbox{unique}.{t}" for t in (s.topics.actions, s.topics.targets)]
        actions = read_sandbox(s, sandboxes[0], 5)
        await delete_topics(s, sandboxes)
        assert sorted(a["decision_id"] for a in actions) == sorted(d["decision_id"] for d in ds)
        # Path mode: the candidate's own book held 5 after the cap, so 9 was refused there too.
        assert [a["action_type"] for a in actions] == ["OK", "CAPPED", "REJECTED", "OK", "CAPPED"]
        # audit why: every constraint's verdict, from the replay.
        answer = json.loads(why.stdout)
        assert why.returncode == 0 and answer["replay"] == "identical", why.stdout + why.stderr
        verdicts = answer["replayed"][0]["verdicts"]
        assert len(verdicts) > 10 and {"constraint", "verdict", "limit"} <= set(verdicts[0])
        # Beside it, the stored compact record (risk.actions 2.0) with its binding verdicts only.
        assert answer["stored"][0]["schema_version"] == "2.0"
        assert "limits_digest" in answer["stored"][0]["details"]

    def test_bad_candidates_exit_2_with_one_line(self, test_settings, tmp_path) -> None:
        """An unknown profile, a limits file with an unknown key, a bad mode, both candidates,
        and a sandbox prefix naming a live topic each exit 2 with one line."""
        s = test_settings
        window = ("--from", "2026-01-01T00:00:00Z", "--to", "2026-01-02T00:00:00Z")
        unknown_key = write(tmp_path / "bad.yaml", {"limits": {"sector_cap": 0.2}, "colour": 1})
        unknown_limit = write(tmp_path / "bad2.yaml", {"limits": {"sektor_cap": 0.2}})
        cases = {
            "unknown profile": ("--profile", "YOLO"),
            "colour": ("--limits", str(unknown_key)),
            "sektor_cap": ("--limits", str(unknown_limit)),
            "--mode": ("--profile", "DEFENSIVE", "--mode", "sideways"),
            "not both": ("--profile", "DEFENSIVE", "--limits", str(unknown_key)),
            "live topic": ("--to-topic", "sbx"),
            "cannot read": ("--limits", str(tmp_path / "absent.yaml")),
        }
        # A deployment whose dead-letter topic is what the sandbox would write actions to.
        clash = s.model_copy(update={"topics": s.topics.model_copy(
            update={"dlq": f"sbx.{s.topics.actions}"})})
        for expected, args in cases.items():
            done = replay_cli(clash, *window, *args)
            assert done.returncode == 2, (expected, done.stdout, done.stderr)
            assert len(done.stderr.strip().splitlines()) == 1, done.stderr
            assert expected in done.stderr, (expected, done.stderr)


def _riskgate(s, *args: str) -> subprocess.CompletedProcess:
    from tests.support.kafka import worker_env

    root = Path(__file__).resolve().parents[2]
    return subprocess.run([str(root / ".venv/bin/python"), "-m", "riskgate.cli", *args],
                          env=worker_env(s), capture_output=True, text=True, timeout=120)


class TestShadowAgreesWithWhatIf:
    @pytest.mark.timeout(300)
    async def test_live_shadow_and_counterfactual_change_the_same_decisions(
            self, test_settings, unique, tmp_path):
        """A worker shadowing DEFENSIVE on the live stream and a counterfactual what-if under
        DEFENSIVE over the same window, two independent paths, change exactly the same
        decisions to the same action types."""
        from tests.integration.test_replay_evidence import fetch

        s = test_settings.model_copy(update={"shadow_profile": "DEFENSIVE"})
        now = time.time()
        p, tk = f"P{unique}", f"V{unique[:6]}".upper()
        # $300 .. $900 against DEFENSIVE's $500 cap, confidences around its 0.75 floor.
        ds = [b.proposal(f"D{unique}-{i}", p, tk, qty=q, created_at=now, confidence=c)
              for i, (q, c) in enumerate([(3.0, 0.9), (8.0, 0.9), (2.0, 0.7), (4.0, 0.8),
                                          (9.0, 0.72), (1.0, 0.95)])]
        await decide_live(s, p, tk, ds, now)
        report = tmp_path / "whatif.ndjson"
        done = await asyncio.to_thread(
            replay_cli, test_settings, "--from", utc(now - 5), "--to", utc(time.time() + 5),
            "--portfolio", p, "--profile", "DEFENSIVE", "--report", str(report))
        shadow = await fetch(s, "SELECT decision_id, live_action, shadow_action FROM "
                                "shadow_records WHERE portfolio_id=$1 AND differs <> '{}'", p)
        assert done.returncode == 0, done.stdout + done.stderr
        whatif = {c["decision_id"]: (c["live"]["action_type"], c["candidate"]["action_type"])
                  for c in map(json.loads, report.read_text().splitlines())}
        live_shadow = {r["decision_id"]: (r["live_action"], r["shadow_action"]) for r in shadow}
        assert len(whatif) >= 2, whatif  # the $800 cap and a confidence under 0.75
        assert whatif == live_shadow
