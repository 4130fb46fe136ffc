"""The control plane's pure parts: what a change does to a scope, the record it publishes, the
refusals made before anything is read, and who may do what."""

from __future__ import annotations

import orjson
import pytest

from riskgate.contracts.decode import decode
from riskgate.contracts.inputs import RiskConfigEvent
from riskgate.control import scopes
from riskgate.control.dryrun import candidate_for
from riskgate.control.model import Actor, ConfigChange, ConfigRefused, NotPermitted
from riskgate.control.writer import check_permission
from riskgate.worker import codec
from riskgate.worker.globals import ConfigBook

pytestmark = pytest.mark.unit

NOW = 1_790_000_000.0


def change(**fields) -> ConfigChange:
    return ConfigChange(reason=fields.pop("reason", "a reason"), **fields)


def book_with(*changes: ConfigChange) -> ConfigBook:
    book = ConfigBook()
    for version, c in enumerate(changes, start=1):
        key = scopes.book_key(c)
        new = scopes.changed(scopes.scope_state(book, key), c)
        message, _ = scopes.record_for(new, c, Actor(name="ops"), version, NOW)
        book.apply(*codec.config_change(message))
    return book


class TestChanged:
    def test_limits_merge_and_unset_inherits_again(self):
        """set-limits merges into the overlay, null stays 'no cap', --unset removes a name."""
        book = book_with(change(limits={"gross_cap": 2.0, "sector_cap": 0.3}),
                         change(limits={"net_cap": None}, unset=["sector_cap"]))
        assert book.overrides[("GLOBAL", "")] == {"gross_cap": 2.0, "net_cap": None}

    def test_a_trading_state_write_keeps_the_profile_and_limits(self):
        """The record carries the whole scope, so a halt keeps the profile and overlay."""
        book = book_with(change(scope="strategy:S1", profile="DEFENSIVE", limits={"gross_cap": 2.0}),
                         change(scope="strategy:S1", trading_state="HALTED"))
        state = scopes.scope_state(book, ("STRATEGY", "S1"))
        assert (state.profile, state.limits, state.trading_state, state.version) == (
            "DEFENSIVE", {"gross_cap": 2.0}, "HALTED", 2)


class TestRecordFor:
    def test_a_scope_record_is_full_state_and_names_its_author(self):
        """The published bytes decode as a full-state record with who, why and its key."""
        c = change(scope="portfolio:P1", trading_state="REDUCING", reason="wind down")
        new = scopes.changed(scopes.scope_state(ConfigBook(), scopes.book_key(c)), c)
        _, payload = scopes.record_for(new, c, Actor(name="alice", authenticated=True), 4, NOW)
        message = decode(RiskConfigEvent, payload, max_bytes=65536)
        assert (message.full_state, message.record_key(), message.version) == (True, "portfolio:P1", 4)
        assert (message.updated_by, message.reason, message.authenticated) == (
            "alice", "wind down", True)
        assert orjson.loads(payload)["limits"] == {}

    def test_a_rearm_has_its_own_key_and_nothing_else(self):
        """A re-arm is keyed rearm:<event>, never global, and carries no scope state."""
        c = change(rearm_event_id="E9")
        new = scopes.changed(scopes.scope_state(ConfigBook(), scopes.book_key(c)), c)
        message, payload = scopes.record_for(new, c, Actor(name="bob"), 2, NOW)
        body = orjson.loads(payload)
        assert message.record_key() == "rearm:E9"
        assert not {"profile", "limits", "trading_state", "full_state"} & set(body)

    def test_a_record_over_the_contract_is_refused(self):
        """An approver name over the contract's 128 characters is refused, not published."""
        c = change(profile="NORMAL")
        new = scopes.changed(scopes.scope_state(ConfigBook(), ("GLOBAL", "")), c)
        with pytest.raises(ConfigRefused, match="approved_by"):
            scopes.record_for(new, c, Actor(name="a"), 1, NOW, approved_by="x" * 200)


class TestRefusedEarly:
    @pytest.mark.parametrize(("fields", "message"), [
        ({}, "nothing to change"),
        ({"limits": {"gross_kap": 1.0}}, "unknown limit keys: gross_kap"),
        ({"unset": ["nope"]}, "unknown limit keys: nope"),
        ({"limits": {"gross_cap": 1.0}, "unset": ["gross_cap"]}, "both set and unset: gross_cap"),
        ({"rearm_event_id": "E1", "profile": "NORMAL"}, "a re-arm names only the event"),
        ({"rearm_event_id": "E1", "scope": "strategy:S1"}, "a re-arm names only the event"),
    ])
    def test_malformed_changes_are_refused(self, fields, message):
        """A change that cannot be right whatever the config is refused with one line."""
        with pytest.raises(ConfigRefused, match=message):
            scopes.check_change(change(**fields))

    def test_layers_that_do_not_combine_are_found(self):
        """A global net cap above a strategy's gross cap is found for that strategy."""
        book = book_with(change(limits={"net_cap": 2.0}),
                         change(scope="strategy:S1", limits={"gross_cap": 1.0}))
        problem = scopes.combined_problem(book, ("STRATEGY", "S1"))
        assert problem is not None and "strategy S1" in problem and "net_cap" in problem


class TestPermissions:
    def test_roles_gate_the_changes(self):
        """Viewers write nothing, operators switch profiles and halt, limits need an admin;
        an unknown role (the CLI) is not checked here."""
        profile, limits = change(profile="NORMAL"), change(limits={"gross_cap": 1.0})
        with pytest.raises(NotPermitted):
            check_permission(profile, Actor(name="v", role="viewer"))
        with pytest.raises(NotPermitted):
            check_permission(limits, Actor(name="o", role="operator"))
        check_permission(profile, Actor(name="o", role="operator"))
        check_permission(limits, Actor(name="a", role="admin"))
        check_permission(limits, Actor(name="cli"))


class TestDiff:
    def test_the_diff_names_every_changed_part(self):
        """Profile, state and each limit that changed, with (inherit) for an absent one."""
        before = {"profile": None, "trading_state": "ACTIVE", "limits": {"gross_cap": 2.0}}
        after = {"profile": "DEFENSIVE", "trading_state": "ACTIVE",
                 "limits": {"gross_cap": 2.0, "net_cap": None}}
        assert scopes.diff(before, after) == ["profile: (inherit) -> DEFENSIVE",
                                              "limits.net_cap: (inherit) -> null"]


class TestDryRunCandidate:
    def test_only_limits_and_profiles_are_evaluated(self):
        """A trading-state change and a re-arm are not evaluated; --unset is said to be left
        out of a limits change."""
        assert candidate_for(change(trading_state="HALTED")) == (
            None, "not evaluated for a trading-state change")
        assert candidate_for(change(rearm_event_id="E1"))[0] is None
        candidate, note = candidate_for(change(limits={"gross_cap": 2.0}, unset=["net_cap"]))
        assert candidate is not None and note == "--unset not evaluated"
