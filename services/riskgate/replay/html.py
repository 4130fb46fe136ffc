"""The what-if report as one self-contained HTML file: inline SVG charts, no network at all.

Auditors' machines are often offline, so nothing is linked: the charts are matplotlib SVG (the
``report`` extra) written into the page, and the only style is inline.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from riskgate.replay.whatif import WhatIfReport, transition

_MAX_PORTFOLIOS = 6  # exposure panels: the portfolios whose candidate path diverged most
_MAX_ROWS = 200
_METADATA = re.compile(r"<metadata>.*?</metadata>", re.DOTALL)

_STYLE = """body{font-family:sans-serif;margin:2em;max-width:75em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.25em .6em;
text-align:left}th{background:#eee}figure{margin:1em 0}.num{text-align:right}"""


def write_html(path: Path, report: WhatIfReport, start: datetime, end: datetime) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        raise SystemExit("riskgate replay --html needs matplotlib: pip install 'riskgate[report]'"
                         ) from None
    body = [f"<h1>riskgate what-if: {escape(report.candidate)} ({report.mode})</h1>",
            f"<p>Window {escape(start.isoformat())} to {escape(end.isoformat())}.</p>",
            _summary(report), "<h2>Changed decisions by reason</h2>",
            _figure("reasons-chart", _reasons_svg(plt, report)), _transitions(report),
            "<h2>Exposure over time, live against candidate</h2>", _exposure(plt, report),
            "<h2>Changed decisions</h2>", _changes(report)]
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>riskgate what-if</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>")
    path.write_text(page, encoding="utf-8")


def _summary(r: WhatIfReport) -> str:
    rows = [("legs decided", r.legs), ("changed", len(r.changes)),
            ("approvals lost", r.approvals_lost), ("approvals gained", r.approvals_gained),
            ("notional traded, live", f"{r.notional_live:,.2f}"),
            ("notional traded, candidate", f"{r.notional_candidate:,.2f}")]
    cells = "".join(f"<tr><th>{k}</th><td class='num'>{v}</td></tr>" for k, v in rows)
    refused = "".join(f"<p>The candidate does not apply on live config version {v}: {escape(w)}</p>"
                      for v, w in sorted(r.refused.items()))
    return f"<table id='summary'>{cells}</table>{refused}"


def _transitions(r: WhatIfReport) -> str:
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>{count}</td><td>"
        f"{escape(', '.join(f'{k} {n}' for k, n in reasons.most_common()))}</td></tr>"
        for name, (count, reasons) in r.transitions().items())
    return ("<table id='transitions'><tr><th>transition</th><th>legs</th><th>reasons</th></tr>"
            f"{rows or '<tr><td colspan=3>no decision changed</td></tr>'}</table>")


def _changes(r: WhatIfReport) -> str:
    rows = []
    for c in r.changes[:_MAX_ROWS]:
        live, cand = c.live, c.candidate
        rows.append("<tr>" + "".join(f"<td>{escape(str(x))}</td>" for x in (
            _when(c.at), c.portfolio_id, c.decision_id, c.ticker, transition(c),
            " ".join(live.reason_codes) if live else "", " ".join(cand.reason_codes) if cand else "",
            live.target_position if live else "", cand.target_position if cand else "")) + "</tr>")
    more = (f"<p>... and {len(r.changes) - _MAX_ROWS} more (see --report).</p>"
            if len(r.changes) > _MAX_ROWS else "")
    head = "".join(f"<th>{h}</th>" for h in ("time", "portfolio", "decision", "ticker", "transition",
                                             "live reasons", "candidate reasons", "live target",
                                             "candidate target"))
    return f"<table id='changes'><tr>{head}</tr>{''.join(rows)}</table>{more}"


def _reasons_svg(plt, r: WhatIfReport) -> str | None:
    counts: dict[str, int] = {}
    for _name, (_count, reasons) in r.transitions().items():
        for reason, n in reasons.items():
            counts[reason] = counts.get(reason, 0) + n
    if not counts:
        return None
    names = sorted(counts, key=counts.get)[-15:]
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(names) + 1.2))
    ax.barh(names, [counts[n] for n in names], color="#c0504d")
    ax.set_xlabel("changed legs")
    return _svg(plt, fig)


def _exposure(plt, r: WhatIfReport) -> str:
    from matplotlib.ticker import MaxNLocator

    if r.mode != "path":
        return ("<p>Counterfactual mode decides each decision against the live book, so the book "
                "never diverges: run with <code>--mode path</code> for exposure over time.</p>")
    series = sorted(r.exposure.items(), key=lambda kv: -max(
        (abs(lg - cg) for _, lg, _, cg, _ in kv[1]), default=0.0))[:_MAX_PORTFOLIOS]
    if not series:
        return "<p>No exposure recorded.</p>"
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.6 * len(series)), squeeze=False)
    for ax, (pid, points) in zip(axes[:, 0], series, strict=True):
        # By decision, not by clock: a batch decides many at one processing time.
        n = range(1, len(points) + 1)
        for i, label, style in ((1, "gross, live", "-"), (3, "gross, candidate", "--"),
                                (2, "net, live", "-"), (4, "net, candidate", "--")):
            ax.plot(n, [p[i] for p in points], style, label=label, drawstyle="steps-post")
        ax.set_title(f"{pid}: {_when(points[0][0])} to {_when(points[-1][0])}", fontsize=10)
        ax.set_xlabel("decision, in order")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("base currency")
        ax.legend(fontsize=7, loc="upper left")
    return _figure("exposure-chart", _svg(plt, fig))


def _figure(element_id: str, svg: str | None) -> str:
    return f"<figure id='{element_id}'>{svg}</figure>" if svg else "<p>Nothing to chart.</p>"


def _svg(plt, fig) -> str:
    fig.tight_layout()
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    text = out.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and doctype: inline in HTML
    return _METADATA.sub("", text)  # the RDF block names web addresses; nothing else does


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
