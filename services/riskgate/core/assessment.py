"""assess: fold one proposal through the chain; assess_batch: many, each seeing the last."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from riskgate.core import reasons as r
from riskgate.core.book import PortfolioBook
from riskgate.core.chain import chain_for
from riskgate.core.constraints.gates import invalid_input
from riskgate.core.context import Context, build_context
from riskgate.core.domain import ActionType, Environment, MarketData, Portfolio, Proposal
from riskgate.core.outcome import Outcome
from riskgate.core.verdict import OK, REJECTED

Markets = Mapping[str, MarketData]


def _book(portfolio: Portfolio | PortfolioBook, markets: Markets | None) -> PortfolioBook:
    if type(portfolio) is PortfolioBook:
        return portfolio
    return PortfolioBook(portfolio, markets)


def assess(proposal: Proposal, portfolio: Portfolio | PortfolioBook,
           market: MarketData | Markets | None, env: Environment) -> Outcome:
    """Run the chain on one proposal. The book is read, never changed.

    ``market`` is the ticker's MarketData, or a mapping of ticker to MarketData (needed to
    price the positions when ``portfolio`` is a plain Portfolio snapshot)."""
    if market is None or type(market) is MarketData:
        own, markets = market, None
    else:
        own, markets = market.get(proposal.ticker), market
    book = _book(portfolio, markets)
    return _fold(proposal, build_context(proposal, book, own, env))


def _fold(proposal: Proposal, ctx: Context) -> Outcome:
    chain = chain_for(ctx.limits)
    trace = []
    append = trace.append
    codes: list[str] = []
    kind = OK
    rejected = False
    current = ctx.current
    for constraint in chain.calls:
        verdict = constraint(proposal, ctx)
        append(verdict)
        k, bound = verdict[0], verdict[5]
        if k is OK:
            if bound is not None:
                ctx.advance(bound)  # lot rounding: an adjustment, not a cut
            continue
        codes.append(verdict[1])
        if k is REJECTED:
            rejected = True
            if bound is None or bound == current:
                ctx.advance(current)
                break
        else:
            kind = k
        ctx.advance(bound)
    return _outcome(proposal, ctx, chain.names, trace, codes, kind, rejected)


def _outcome(proposal: Proposal, ctx: Context, names: tuple[str, ...], trace: list,
             codes: list[str], kind: ActionType, rejected: bool) -> Outcome:
    current, proposed, folded = ctx.current, ctx.proposed, ctx.target
    note = None
    if rejected:
        approved = current
        action = ActionType.REJECTED
        if codes[-1] in r.TERMINAL:
            if codes[-1] == r.DECISION_EXPIRED:
                action = ActionType.EXPIRED
            elif codes[-1] == r.INVALID_INPUT:
                note = invalid_input(ctx)
            folded = current
    else:
        approved = folded
        action = kind
        if codes and approved == current and proposed != current:
            action = ActionType.REJECTED  # the caps left no room at all
    if ctx.stale is not None:
        note = f"stale input: {ctx.stale[0]}" if note is None else note
    env = ctx.env
    return Outcome(action, proposal, ctx.market, ctx.limits, names, trace, tuple(codes),
                   current, proposed, approved, folded if codes else None, ctx.unit,
                   ctx.equity, env.now, env.profile, note)


def assess_batch(proposals: Iterable[Proposal], portfolio: Portfolio | PortfolioBook,
                 markets: Markets, env: Environment, *, apply: bool = True) -> list[Outcome]:
    """Assess proposals in order. With ``apply`` each approved target is applied to the
    book, so the next proposal sees it; pass ``book.copy()`` to keep the original."""
    book = _book(portfolio, markets)
    outcomes = []
    for proposal in proposals:
        outcome = _fold(proposal, build_context(proposal, book, markets.get(proposal.ticker),
                                                env))
        if apply and outcome.approved_position != outcome.current:
            book.apply(outcome)
        outcomes.append(outcome)
    return outcomes
