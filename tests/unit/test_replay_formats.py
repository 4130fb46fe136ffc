"""Replay renders a replayed output in the stored output's own format version."""

from __future__ import annotations

import pytest

from riskgate.replay.evidence import Unreplayable
from riskgate.replay.formats import render

pytestmark = pytest.mark.unit


class TestRender:
    def test_the_current_format_is_compared_as_it_is(self) -> None:
        """A stored 1.0 action is compared with the replayed payload unchanged."""
        replayed = {"schema_version": "1.0", "action_id": "A", "action_type": "OK"}
        assert render(replayed, {"schema_version": "1.0", "action_id": "A"}) == replayed

    def test_a_format_this_build_cannot_render_is_unreplayable_with_its_reason(self) -> None:
        """A stored format version with no renderer raises Unreplayable naming the version and
        the versions this build renders."""
        with pytest.raises(Unreplayable, match=r"'0\.9' of A cannot be rendered.*renders 1\.0"):
            render({"schema_version": "1.0"}, {"schema_version": "0.9", "action_id": "A"})
