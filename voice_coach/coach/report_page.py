"""The report as one self-contained HTML page that prints on one A4 or Letter page.

No network and no script: a ``default-src 'none'`` content-security policy (inline
style only), the charts inline as SVG drawn by matplotlib's SVG back-end. matplotlib
is imported here alone, so no other command pays for it.
"""

from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta

from voice_coach.coach.report import REPORT_WEEKS, Report
from voice_coach.coach.stats import calendar_weeks, weekday_names
from voice_coach.i18n import _, day_text, decimal, language_in_use, ngettext

CSP = "default-src 'none'; style-src 'unsafe-inline'"
SHADES = ("#f1f1f1", "#c6dbef", "#6baed6", "#2171b5", "#08306b")  # 0, 1, 2, 3, 4+ sessions
STYLE = """
@page { margin: 11mm; }
* { box-sizing: border-box; }
body { font: 8.5pt/1.25 "DejaVu Sans", sans-serif; color: #111; margin: 0 auto; max-width: 186mm; }
h1 { font-size: 14pt; margin: 0 0 1mm; }
h2 { font-size: 10pt; margin: 3mm 0 1mm; border-bottom: 0.3mm solid #999; }
p { margin: 0.8mm 0; }
table { border-collapse: collapse; }
td, th { padding: 0.3mm 1.5mm; text-align: left; vertical-align: top; }
.figures td:first-child { color: #444; white-space: nowrap; }
.moves td { border-bottom: 0.2mm solid #ddd; }
.calendar td { width: 3.4mm; height: 3.4mm; padding: 0; border: 0.4mm solid #fff; }
.calendar th { font-weight: normal; font-size: 7pt; padding: 0 1mm 0 0; }
.row { display: flex; gap: 6mm; }
.row > div:first-child { flex: 0 0 auto; }
.row > div:last-child { flex: 0 0 auto; min-width: 62mm; }
.chart svg { width: 100%; height: auto; display: block; }
.note { font-size: 8pt; color: #333; margin-top: 3mm; }
"""


def report_page(report: Report, safety: str) -> str:
    """The whole page."""
    about = _(
        "{period}. Made by voice-coach from the user's own practice log; pain is rated from "
        "0, no pain, to 10, the worst pain imaginable."
    ).format(period=_period(report))
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{language_in_use()}"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        tag("title", _("voice-coach: practice report")),
        f"<style>{STYLE}</style></head><body>",
        tag("h1", _("Practice report")),
        f"<p>{_h(about)}</p>",
    ]
    if report.empty:
        parts.append(
            tag("h2", _("No sessions"))
            + tag("p", _("The practice log holds no sessions in this period."))
        )
    else:
        parts.append('<div class="row"><div style="flex: 1 1 auto">')
        parts += _program(report)
        parts.append("</div><div>")
        parts += _figures(report)
        parts.append("</div></div>")
        parts.append(tag("h2", _("Pain ratings")))
        none = tag("p", _("None given."))
        parts.append(_chart(_pain_chart, report) if report.ratings else none)
        parts.append(tag("h2", _("Sessions per week")))
        parts.append(_chart(_weeks_chart, report))
        parts.append('<div class="row"><div>')
        last = _("The last {n} weeks").format(n=REPORT_WEEKS)
        parts.append(f"<h2>{_h(last)}</h2>{_calendar(report)}")
        parts.append("</div><div>")
        parts += _moves(report)
        parts.append("</div></div>")
    parts.append(f'<p class="note">{html.escape(safety)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def tag(name: str, text: str) -> str:
    """``text`` as the HTML element ``name`` (``tag("h2", _("Totals"))``)."""
    return f"<{name}>{_h(text)}</{name}>"


def _h(text: str) -> str:
    """Text (a translation, a name from a file) as HTML."""
    return html.escape(text, quote=False)


def _period(report: Report) -> str:
    return _("From {first} to {last}").format(first=_day(report.since), last=_day(report.made))


def _day(day: date) -> str:
    """ "Mon 07 Dec 2026", as the language in use writes a day."""
    return day_text(day, "EEE dd MMM y")


def _program(report: Report) -> list[str]:
    heading = tag("h2", _("Program"))
    if report.program is None or report.state is None:
        return [heading + tag("p", _("No program: single sessions."))]
    program, state = report.program, report.state
    stage = program.stages[state.stage]
    where = ngettext(
        "stage {stage} of {stages} ({summary}), {n} session a day planned.",
        "stage {stage} of {stages} ({summary}), {n} sessions a day planned.",
        program.sessions_per_day,
    ).format(
        stage=state.stage + 1,
        stages=len(program.stages),
        summary=stage.summary(),
        n=program.sessions_per_day,
    )
    why = _("Why this stage: {reason}.").format(reason=state.why)
    clinician = _(
        "Pain of {stop_at} or more on several days: see a clinician before going on."
    ).format(stop_at=program.pain.stop_at)
    return [
        heading,
        f"<p><b>{_h(program.title)}</b>: {_h(where)}</p>",
        f"<p>{_h(why)}</p>",
        *([f"<p><b>{_h(clinician)}</b></p>"] if state.see_clinician else []),
    ]


def _figures(report: Report) -> list[str]:
    totals = report.totals
    rows = [
        (_("Sessions"), f'<span id="sessions">{totals.sessions}</span>'),
        (_("Completed"), f'<span id="completed">{totals.completed}</span>'),
        (_("Days practised"), f'<span id="days">{totals.days_practised}</span>'),
        (_("Reps done"), f'<span id="reps">{totals.reps_done}</span>'),
        (_("Pain ratings"), f'<span id="ratings">{len(totals.ratings)}</span>'),
    ]
    if totals.ratings:
        mean = sum(totals.ratings) / len(totals.ratings)
        spread = _("{mean} (lowest {low}, highest {high})").format(
            mean=decimal(mean), low=min(totals.ratings), high=max(totals.ratings)
        )
        rows += [(_("Mean rating"), _h(spread)), (_("Latest rating"), str(totals.ratings[-1]))]
    if report.streak_days is not None:
        streak = ngettext("{n} day in a row", "{n} days in a row", report.streak_days)
        rows.append((_("Streak now"), _h(streak.format(n=report.streak_days))))
    cells = "".join(f"<tr><td>{_h(name)}</td><td>{value}</td></tr>" for name, value in rows)
    return [tag("h2", _("Totals")) + f'<table class="figures">{cells}</table>']


def _moves(report: Report) -> list[str]:
    if report.program is None:
        return []
    if not report.moves:
        return [tag("h2", _("Stage moves")) + tag("p", _("None yet."))]
    title = _("Stage moves")
    if report.earlier_moves:
        title = _("Stage moves, the latest {n}").format(n=len(report.moves))
    rows = "".join(
        f"<tr><td>{move.day.isoformat()}</td><td>{move.from_stage}&nbsp;→&nbsp;"
        f"{move.to_stage}</td><td>{html.escape(move.reason)}</td></tr>"
        for move in report.moves
    )
    earlier = ""
    if report.earlier_moves:
        earlier = tag("p", _("and {n} earlier.").format(n=report.earlier_moves))
    return [f'<h2>{_h(title)}</h2><table class="moves">{rows}</table>{earlier}']


def _calendar(report: Report) -> str:
    columns, labels = calendar_weeks(report.made)
    head = "".join(f'<th colspan="1">{labels.get(week, "")}</th>' for week in range(len(columns)))
    rows = [f"<tr><th></th>{head}</tr>"]
    for weekday in range(7):
        cells = []
        for monday in columns:
            day = monday + timedelta(days=weekday)
            if day > report.made:
                cells.append("<td></td>")
                continue
            count = report.days.get(day, 0)
            shade = SHADES[min(count, len(SHADES) - 1)]
            cells.append(f'<td style="background:{shade}" title="{day}: {count}"></td>')
        rows.append(f"<tr><th>{weekday_names()[weekday].strip()}</th>{''.join(cells)}</tr>")
    return f'<table class="calendar">{"".join(rows)}</table>'


def _chart(draw: object, report: Report) -> str:
    """A chart drawn by ``draw(figure, report)`` as inline SVG (text kept as text)."""
    import matplotlib

    matplotlib.use("svg")
    from matplotlib.figure import Figure

    matplotlib.rcParams.update(
        {"svg.fonttype": "none", "svg.hashsalt": "voice-coach", "font.size": 7}
    )
    figure = Figure(figsize=(7.2, 1.3))
    draw(figure, report)  # type: ignore[operator]
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = re.sub(r"<metadata>.*?</metadata>", "", buffer.getvalue(), flags=re.S)
    return f'<div class="chart">{svg[svg.index("<svg") :]}</div>'


def _pain_chart(figure: object, report: Report) -> None:
    axes = figure.add_subplot()  # type: ignore[attr-defined]
    when = [moment for moment, _pain in report.ratings]
    pains = [pain for _, pain in report.ratings]
    axes.plot(when, pains, marker="o", markersize=2.5, linewidth=0.8, color="#2171b5")
    stop = report.program.pain.stop_at if report.program else 7
    axes.axhline(stop, color="#b22222", linewidth=0.6, linestyle="--")
    axes.set_ylim(-0.5, 10.5)
    axes.set_yticks([0, 5, 10], [_("0 none"), "5", _("10 worst")])
    axes.set_xlim(_start(report), _end(report))
    _plain(axes)


def _weeks_chart(figure: object, report: Report) -> None:
    axes = figure.add_subplot()  # type: ignore[attr-defined]
    mondays = [week.monday for week in report.weeks]
    axes.bar(mondays, [week.sessions for week in report.weeks], width=5, color="#6baed6")
    if report.program is not None:
        planned = [week.planned or 0 for week in report.weeks]
        axes.step(mondays, planned, where="mid", color="#333", linewidth=0.8, label=_("planned"))
        axes.legend(loc="upper left", frameon=False)
    axes.set_xlim(_start(report), _end(report))
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # no "0.25 sessions"
    _plain(axes)


def _start(report: Report) -> date:
    return report.since - timedelta(days=report.since.weekday() + 1)


def _end(report: Report) -> date:
    return report.made + timedelta(days=7 - report.made.weekday())


def _plain(axes: object) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)  # type: ignore[attr-defined]
