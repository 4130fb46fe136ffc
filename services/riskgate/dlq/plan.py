"""What a redrive will do to each dead letter, said before anything is published.

The worker decides a redriven record exactly as any other, so its fate can be told from the
stored bytes, the workers' settings and ``processed_decisions``, in the order the worker applies:

1. it does not decode (under ``RISKGATE_MAX_MESSAGE_BYTES``), or its key is not its
   portfolio_id: ``DEAD_LETTER`` again, with that code;
2. its decision_id was processed already (or comes earlier in the same redrive): ``DUPLICATE``,
   never a second target;
3. a proposal older than ``RISKGATE_MAX_DECISION_AGE_S`` now: ``EXPIRED`` (the worker decides
   later still, so a record near the limit may expire too);
4. otherwise ``DECIDED`` anew.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from riskgate.contracts.decode import decode_proposed
from riskgate.contracts.inputs import ForcedDeriskCommand, ProposedDecision
from riskgate.errors import PoisonMessage
from riskgate.store.dlq import StoredDeadLetter


class Expect(StrEnum):
    """What the worker will make of a redriven record."""

    DECIDED = "DECIDED"
    DUPLICATE = "DUPLICATE"
    EXPIRED = "EXPIRED"
    DEAD_LETTER = "DEAD_LETTER"


@dataclass(frozen=True, slots=True)
class Examined:
    """A dead letter's stored bytes, decoded again as the worker would."""

    letter: StoredDeadLetter
    message: ProposedDecision | ForcedDeriskCommand | None
    poison: PoisonMessage | None

    @property
    def decision_id(self) -> str | None:
        return None if self.message is None else self.message.decision_id


@dataclass(frozen=True, slots=True)
class Prediction:
    letter: StoredDeadLetter
    expect: Expect
    detail: str
    decision_id: str | None


def examine(letter: StoredDeadLetter, max_bytes: int) -> Examined:
    """Decode the full original bytes as the worker's handler does, key check included."""
    try:
        message = decode_proposed(letter.value, max_bytes=max_bytes)
    except PoisonMessage as exc:
        return Examined(letter, None, exc)
    key = None if letter.key is None else letter.key.decode("utf-8", "replace")
    if key != message.portfolio_id:
        return Examined(letter, None, PoisonMessage(
            "KEY_MISMATCH", f"record key {key!r} is not portfolio_id {message.portfolio_id!r}"))
    return Examined(letter, message, None)


def predict(items: Sequence[Examined], processed: set[str], now: float,
            max_age_s: float | None) -> list[Prediction]:
    """Each record's expected outcome, in the order they will be published."""
    seen = set(processed)
    out: list[Prediction] = []
    for item in items:
        message = item.message
        if message is None:
            assert item.poison is not None
            out.append(Prediction(item.letter, Expect.DEAD_LETTER,
                                  f"{item.poison.code}: {item.poison.reason}", None))
            continue
        did = message.decision_id
        if did in seen:
            out.append(Prediction(item.letter, Expect.DUPLICATE,
                                  f"decision_id {did} was processed before", did))
            continue
        seen.add(did)
        if isinstance(message, ProposedDecision) and max_age_s is not None:
            age = now - message.created_at.timestamp()
            if age > max_age_s:
                out.append(Prediction(item.letter, Expect.EXPIRED,
                                      f"decision {did} is {age:.0f} s old (max {max_age_s:g} s)",
                                      did))
                continue
        kind = "forced de-risk command" if isinstance(message, ForcedDeriskCommand) else "decision"
        out.append(Prediction(item.letter, Expect.DECIDED, f"{kind} {did} for "
                              f"{message.portfolio_id}", did))
    return out


def summary(predictions: Iterable[Prediction], max_age_s: float | None) -> list[str]:
    """The up-front lines: how many of each outcome, the codes of those still invalid."""
    found = list(predictions)
    counts = Counter(p.expect for p in found)
    codes = Counter(p.detail.split(":", 1)[0] for p in found if p.expect is Expect.DEAD_LETTER)
    age = "unset" if max_age_s is None else f"{max_age_s:g} s"
    lines = [
        f"  DECIDED      {counts[Expect.DECIDED]:>5}  valid and not processed yet: decided anew",
        f"  DUPLICATE    {counts[Expect.DUPLICATE]:>5}  decision_id already processed: come back "
        "DUPLICATE, no second target",
        f"  EXPIRED      {counts[Expect.EXPIRED]:>5}  older than RISKGATE_MAX_DECISION_AGE_S "
        f"({age}): come back EXPIRED",
        f"  DEAD_LETTER  {counts[Expect.DEAD_LETTER]:>5}  still invalid: dead-lettered again"
        + (f" ({', '.join(f'{c} {n}' for c, n in sorted(codes.items()))})" if codes else ""),
    ]
    before = sum(1 for p in found if p.letter.redriven)
    if before:
        lines.append(f"  {before} of them redriven before")
    return lines
