"""The coach's commands: log, history, stats, programs, today, report, remind, config.

Registered in ``cli/__init__.py``; like every command, they parse, call the coach's
modules and present. Heavy modules (SQLite, icalendar, matplotlib) are imported inside
each command, so a session's start pays nothing for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from voice_coach.cli.feedback import pain_warnings, safety_answer
from voice_coach.cli.options import (
    ProgramOption,
    ProtocolArg,
    listed_length,
    one_source,
    out,
    out_bytes,
    safety_line,
    shown_words,
)
from voice_coach.coach.stats import days_words, sessions_words
from voice_coach.errors import UsageError
from voice_coach.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from voice_coach.coach.log import LogEntry
    from voice_coach.coach.programs import Program
    from voice_coach.coach.stats import PainTrend, Week

HISTORY_LATEST = 20
history_app = typer.Typer(
    help="The sessions in the practice log, newest first.", rich_markup_mode=None
)
programs_app = typer.Typer(
    help="List the built-in programs, or explain one.", rich_markup_mode=None
)
config_app = typer.Typer(help="The settings file.", rich_markup_mode=None)

# --- log -------------------------------------------------------------------------------


def log_session(
    protocol: ProtocolArg = None,
    program: ProgramOption = None,
    reps: Annotated[
        int | None, typer.Option(help="Reps done (default: all the session planned).", min=1)
    ] = None,
    when: Annotated[
        str, typer.Option(metavar="TIME", help="When: ISO 8601, today or yesterday.")
    ] = "now",
    pain: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="How much your back hurts now, from 0, no pain, to 10, the worst pain you "
            "can imagine.",
        ),
    ] = None,
) -> None:
    """Record a session done away from the computer (an exported file on a phone)."""
    from voice_coach.coach.log import PracticeLog, local_now, parse_when
    from voice_coach.coach.practice import session_shape, todays_session
    from voice_coach.coach.rating import HIGH, LOW
    from voice_coach.core.protocol import Pace, apply_pace
    from voice_coach.files.loader import load_protocol

    one_source(protocol, program)
    if pain is not None and not LOW <= pain <= HIGH:
        raise UsageError(
            _("--pain {value} must be from {low} to {high}").format(value=pain, low=LOW, high=HIGH)
        )
    now = local_now()
    started = parse_when(when, now)
    plan = todays_session(program, now) if program is not None else None
    played = apply_pace(
        shown_words(load_protocol(plan.protocol if plan else protocol)),
        plan.pace if plan else Pace(),
    )
    shape = session_shape(played, None, plan.pace.factor if plan else 1.0, plan)
    with PracticeLog() as log:
        before = log.last_pain()
        entry_id = log.add(shape, started, reps or shape.reps_planned, pain)
        entry = log.get(entry_id)
    assert entry is not None
    out(_("Logged: {entry}").format(entry=history_line(entry)))
    if pain is not None:
        for line in safety_answer(pain, before, played, plan.program.pain if plan else None):
            out(line)


# --- history ---------------------------------------------------------------------------


@history_app.callback(invoke_without_command=True)
def history(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(metavar="DATE", help="From this day on (ISO 8601, today...).")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help=f"Every session, not the latest {HISTORY_LATEST}.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="A JSON list of objects.")] = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV with the same columns.")] = False,
) -> None:
    """The sessions, newest first (the latest 20 unless --all); --json and --csv list all."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import datetime

    from voice_coach.coach.log import COLUMNS, PracticeLog, local_now, parse_day

    if json_out and csv_out:
        raise UsageError(_("choose --json or --csv, not both"))
    start = None
    if since is not None:
        start = datetime.combine(parse_day(since, local_now().date()), datetime.min.time())
        start = start.astimezone()
    with PracticeLog(create=False) as log:
        if json_out:
            out_bytes(log.json_bytes(since=start))
            return
        if csv_out:
            out(csv_text(COLUMNS, log.rows(since=start)).rstrip("\n"))
            return
        entries = log.entries(since=start, limit=None if show_all else HISTORY_LATEST + 1)
    if not entries:
        out(_("No sessions yet.") if since is None else _("No sessions since then."))
        return
    more = not show_all and len(entries) > HISTORY_LATEST
    for entry in entries[:HISTORY_LATEST] if more else entries:
        out(history_line(entry))
    if more:
        out(_("(the latest {n}; --all shows every one)").format(n=HISTORY_LATEST))


def csv_text(columns: tuple[str, ...], rows: object) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)  # type: ignore[arg-type]
    return buffer.getvalue()


def history_line(entry: LogEntry) -> str:
    shape = entry.shape
    program = f" [{shape.program} {shape.stage}]" if shape.program else ""
    done = ngettext("{done}/{planned} rep", "{done}/{planned} reps", shape.reps_planned)
    parts = [done.format(done=entry.reps_done, planned=shape.reps_planned)]
    if entry.skipped:
        parts.append(_("{n} skipped").format(n=entry.skipped))
    parts.append(_(ENDINGS[entry.ended]) if entry.ended in ENDINGS else entry.ended)
    if entry.pain is not None:
        parts.append(_("pain {pain}").format(pain=entry.pain))
    when = f"{entry.started_at:%Y-%m-%d %H:%M}"
    return f"#{entry.id:<4} {when}  {shape.protocol}{program}  " + ", ".join(parts)


# How a session ended, as the log keeps it (``completed``...) and as a person reads it.
ENDINGS = {
    "completed": N_("completed"),
    "quit": N_("quit"),
    "interrupted": N_("interrupted"),
    "unfinished": N_("unfinished"),
    "logged": N_("logged"),
}


@history_app.command("delete")
def history_delete(
    entry_id: Annotated[int, typer.Argument(metavar="ID", help="The entry's id (#N).")],
) -> None:
    """Remove a wrong entry from the log."""
    from voice_coach.coach.log import PracticeLog

    with PracticeLog(create=False) as log:
        entry = log.get(entry_id)
        if entry is None:
            raise UsageError(
                _("no entry #{id} in the log").format(id=entry_id), _("see: voice-coach history")
            )
        log.delete(entry_id)
    out(_("Deleted: {entry}").format(entry=history_line(entry)))


@history_app.command("backup")
def history_backup(
    output: Annotated[str, typer.Argument(metavar="FILE", help="Where to write the copy.")],
    force: Annotated[bool, typer.Option(help="Overwrite the file if it exists.")] = False,
) -> None:
    """A consistent copy of the practice log (even while a session writes), yours alone."""
    from voice_coach.coach.log_copies import backup

    target = Path(output)
    count = backup(target, force=force)
    out(
        ngettext("Backed up {n} entry to {file}", "Backed up {n} entries to {file}", count).format(
            n=count, file=target
        )
    )


@history_app.command("restore")
def history_restore(
    backup_file: Annotated[str, typer.Argument(metavar="FILE", help="A backup to restore.")],
) -> None:
    """Replace the log with a backup (the current log is saved beside it as .bak)."""
    from voice_coach.coach.log_copies import restore

    count, saved = restore(Path(backup_file))
    restored = ngettext(
        "Restored {n} entry from {file}", "Restored {n} entries from {file}", count
    ).format(n=count, file=backup_file)
    kept = _("; ") + _("the log before it is in {file}").format(file=saved) if saved else ""
    out(restored + kept)


@history_app.command("import")
def history_import(
    rows_file: Annotated[
        str, typer.Argument(metavar="FILE.json|FILE.csv", help="What history --json/--csv wrote.")
    ],
) -> None:
    """Add the entries history --json or --csv wrote (on another machine, say); entries
    already in the log are skipped."""
    from voice_coach.coach.log_copies import import_rows

    done = import_rows(Path(rows_file))
    out(
        _("Imported {added} new, {skipped} already in the log").format(
            added=done.added, skipped=done.skipped
        )
    )


# --- stats -----------------------------------------------------------------------------


def stats() -> None:
    """Days practised, streaks, this week and the four before, a 12-week calendar, pain."""
    from voice_coach.coach.stats import heat_map, practice_stats

    coach = coach_view()
    figures = practice_stats(coach.days, coach.today)
    out(
        _("Days practised: {days} ({sessions})").format(
            days=figures.days_practised, sessions=sessions_words(figures.sessions)
        )
    )
    if coach.show_streaks:
        out(
            _("Streak: {now} now, {longest} at the longest").format(
                now=days_words(figures.current_streak), longest=figures.longest_streak
            )
        )
    out()
    if coach.program and coach.per_day:
        plan = _("{program}: {n} a day").format(program=coach.program.title, n=coach.per_day)
        out(_("Weeks, from Monday ({plan}):").format(plan=plan))
    else:
        out(_("Weeks, from Monday:"))
    labels = [
        _("this week") if week.monday == coach.weeks[0].monday else day_month(week.monday)
        for week in coach.weeks
    ]
    width = max(len(label) for label in labels)
    for label, week in zip(labels, coach.weeks, strict=True):
        out(f"  {label:<{width}} {week.words()}")
    out()
    for line in heat_map(coach.days, coach.today):
        out(line)
    if coach.trend is not None:
        out()
        out(_("Pain: {trend}").format(trend=coach.trend.words()))


def day_month(day: date) -> str:
    """ "03 Nov" as the language in use writes a day and month."""
    from voice_coach.i18n import day_text

    return day_text(day, "dd MMM")


@dataclass
class CoachView:
    """What ``stats``, ``today`` and ``report`` show of the log, read once."""

    today: date
    days: dict[date, int]
    weeks: list[Week]
    trend: PainTrend | None
    program: Program | None
    per_day: int | None
    times: list[time]
    show_streaks: bool


def coach_view(program: str | None = None) -> CoachView:
    """The log's figures for the coach's screens, with the program the user follows
    (``program``, else the settings', else the last one played) for the week's plan."""
    from datetime import datetime

    from voice_coach.cli.options import settings_keys
    from voice_coach.coach.log import PracticeLog, local_now
    from voice_coach.coach.programs import load_program
    from voice_coach.coach.settings import load_settings
    from voice_coach.coach.stats import TREND_DAYS, pain_trend, usual_times, weeks

    settings = load_settings(known=settings_keys())
    today = local_now().date()
    monday = today - timedelta(days=today.weekday())
    since = datetime.combine(
        min(today - timedelta(days=2 * TREND_DAYS), monday - timedelta(weeks=4)),
        datetime.min.time(),
    ).astimezone()
    with PracticeLog(create=False) as log:
        days = log.days()
        ratings = log.pains(since=since)
        latest = log.latest_rating()
        minutes = log.start_minutes(since=since)
        chosen = program or settings.program or log.last_program()
        loaded = load_program(chosen) if chosen else None
        first = log.entries(program=loaded.name, oldest_first=True, limit=1) if loaded else []
    per_day = loaded.sessions_per_day if loaded else None
    plan_from = first[0].day if first else today  # the plan runs from the program's start
    return CoachView(
        today=today,
        days=days,
        weeks=weeks(days, ratings, today, per_day, plan_from=plan_from),
        trend=pain_trend(ratings or ([latest] if latest else []), today),
        program=loaded,
        per_day=per_day,
        times=usual_times(minutes, per_day or 1),
        show_streaks=settings.show_streaks,
    )


# --- programs and today ----------------------------------------------------------------


@programs_app.callback(invoke_without_command=True)
def programs_list(ctx: typer.Context) -> None:
    """List the built-in programs: name, stages, sessions a day, what it is."""
    if ctx.invoked_subcommand is not None:
        return
    from voice_coach.coach.programs import builtin_program_names, load_program

    for name in builtin_program_names():
        program = load_program(name)
        stages = ngettext("{n} stage", "{n} stages", len(program.stages)).format(
            n=len(program.stages)
        )
        per_day = _("{n} a day").format(n=program.sessions_per_day)
        out(f"{name}  {stages}, {per_day}  {program.description}")


@programs_app.command("show")
def programs_show(
    program: Annotated[str, typer.Argument(metavar="NAME|FILE", help="A built-in or a file.")],
) -> None:
    """Explain a program: its stages, the rules that move between them, a safety note."""
    from voice_coach.coach.programs import load_program
    from voice_coach.files.loader import load_protocol

    loaded = load_program(program)
    out(f"{loaded.title} ({loaded.name})")
    out(loaded.description)
    if loaded.about:
        out()
        out(" ".join(loaded.about.split()))
    out()
    per_day = loaded.sessions_per_day
    out(ngettext("{n} session a day", "{n} sessions a day", per_day).format(n=per_day))
    for number, stage in enumerate(loaded.stages, start=1):
        rules = f": {stage.rules()}" if stage.rules() else ""
        out("  " + _("stage {n}: {summary}").format(n=number, summary=stage.summary()) + rules)
    out()
    out(_("Pain (0, no pain, to 10, the worst pain you can imagine):"))
    for line in loaded.pain_rules_text():
        out(f"  {line}")
    out()
    first = shown_words(load_protocol(loaded.stages[0].protocol))
    out(safety_line(first.safety))


def today(
    program: Annotated[
        str | None, typer.Argument(metavar="[PROGRAM]", help="A program (default: your last).")
    ] = None,
) -> None:
    """Today's next session: what it is, why it is that one, how many are done today."""
    from voice_coach.cli.options import settings_keys
    from voice_coach.coach.practice import last_program, todays_session
    from voice_coach.coach.settings import load_settings
    from voice_coach.coach.stats import practice_stats, week_sentence
    from voice_coach.files.loader import DEFAULT_PROTOCOL, load_protocol

    chosen = program or load_settings(known=settings_keys()).program or last_program()
    if chosen is None:
        protocol = shown_words(load_protocol(DEFAULT_PROTOCOL))
        length = listed_length(protocol)
        out(
            _("No program yet: the default session, {title} ({length}).").format(
                title=protocol.title, length=length
            )
        )
        out("voice-coach run   " + _("(voice-coach programs lists programs that move you on)"))
        return
    plan = todays_session(chosen)
    out(_("{program}: {progress}").format(program=plan.program.title, progress=plan.progress))
    for line in pain_warnings(plan):
        out(line)
    out(_("Next: {session}").format(session=plan.stage.summary()))
    out(_("Why: {reason}").format(reason=plan.why))
    if plan.done_today >= plan.program.sessions_per_day and not plan.stop_today:
        out(_("Today's sessions are done; another one is fine if it feels good."))
    coach = coach_view(plan.program.name)
    week = coach.weeks[0]
    out(week_sentence(week, plan.program.sessions_per_day, coach.times, plan.program.name))
    if coach.show_streaks:
        streak = practice_stats(coach.days, coach.today).current_streak
        if streak > 1:
            out(_("Streak: {days} in a row.").format(days=days_words(streak)))
    out(f"voice-coach run --program {plan.program.name}")


# --- remind ----------------------------------------------------------------------------


def remind(
    at: Annotated[
        list[str], typer.Option("--at", metavar="HH:MM", help="A time of day; repeatable.")
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="OUT", help="The .ics file to write.")
    ] = "reminders.ics",
    program: ProgramOption = None,
    force: Annotated[bool, typer.Option(help="Overwrite the file if it exists.")] = False,
) -> None:
    """Write daily reminders as an iCalendar file (.ics) for a phone or desktop calendar."""
    from voice_coach.coach.log import local_now
    from voice_coach.coach.reminders import parse_clock, reminder_calendar
    from voice_coach.files.export import write_whole_file

    times = [parse_clock(text) for text in at]
    if program is not None:
        from voice_coach.coach.programs import load_program

        loaded = load_program(program)
        title, command, key = loaded.title, f"voice-coach run --program {loaded.name}", loaded.name
    else:
        title, command, key = _("Glute squeeze"), "voice-coach run", "session"
    now = local_now()
    data = reminder_calendar(
        times, title=title, command=command, key=key, first_day=now.date(), stamp=now
    )
    target = Path(output)
    write_whole_file(target, data, force=force)
    listed = ", ".join(f"{time:%H:%M}" for time in sorted(times))
    out(
        _("Wrote {file}: {title}, every day at {times}").format(
            file=target, title=title, times=listed
        )
    )


# --- report ----------------------------------------------------------------------------


def report(
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="FILE", help="The .html file to write.")
    ] = "report.html",
    since: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="From this day on (ISO 8601; default: 12 weeks ago)."),
    ] = None,
    program: ProgramOption = None,
    force: Annotated[bool, typer.Option(help="Overwrite the file if it exists.")] = False,
) -> None:
    """A one-page report for your clinician: program, stage, moves, weeks, pain, calendar."""
    from datetime import datetime

    from voice_coach.cli.options import settings_keys
    from voice_coach.coach.log import PracticeLog, local_now, parse_day
    from voice_coach.coach.programs import load_program
    from voice_coach.coach.report import REPORT_WEEKS, build_report
    from voice_coach.coach.report_page import report_page
    from voice_coach.coach.settings import load_settings
    from voice_coach.coach.stats import practice_stats
    from voice_coach.files.export import write_whole_file
    from voice_coach.files.loader import DEFAULT_PROTOCOL, load_protocol

    today = local_now().date()
    start = parse_day(since, today) if since else today - timedelta(weeks=REPORT_WEEKS)
    if start > today:
        raise UsageError(_("--since {day} is in the future").format(day=since))
    settings = load_settings(known=settings_keys())
    loaded = load_program(program) if program else None
    with PracticeLog(create=False) as log:
        if loaded is None:
            chosen = settings.program or log.last_program()
            loaded = load_program(chosen) if chosen else None
        period = log.entries(since=datetime.combine(start, datetime.min.time()).astimezone())
        mine = log.entries(program=loaded.name, oldest_first=True) if loaded else []
        days = log.days()
    streak = practice_stats(days, today).current_streak if settings.show_streaks else None
    made = build_report(period, mine, loaded, start, today, streak)
    protocol = loaded.stages[0].protocol if loaded else DEFAULT_PROTOCOL
    page = report_page(made, shown_words(load_protocol(protocol)).safety)
    target = Path(output)
    write_whole_file(target, page.encode("utf-8"), force=force, private=True)
    shown = _("no sessions") if made.empty else sessions_words(made.totals.sessions)
    out(
        _("Wrote {file}: {sessions} since {day} (readable by you alone)").format(
            file=target, sessions=shown, day=start.isoformat()
        )
    )


# --- config ----------------------------------------------------------------------------


@config_app.command("show")
def config_show() -> None:
    """The settings in force and where each comes from (the file, or the default)."""
    from voice_coach.cli.options import SESSION_PARAMETERS, settings_keys
    from voice_coach.coach.settings import DEFAULT_DUCK_DB, DEFAULT_OTHERS, load_settings

    settings = load_settings(known=settings_keys())
    defaults = {name: default for name, _kind, default in SESSION_PARAMETERS}
    defaults["show_streaks"] = True
    defaults["others"], defaults["duck_db"] = DEFAULT_OTHERS, DEFAULT_DUCK_DB
    if settings.exists:
        out(_("settings file: {file}").format(file=settings.path))
    else:
        out(
            _("settings file: {file} (no such file: every value is the default)").format(
                file=settings.path
            )
        )
    for key in settings_keys():
        if key == "lang":
            value, source = language_shown()
        elif key in settings.values:
            value, source = settings.values[key], _("settings file")
        else:
            value, source = defaults.get(key), _("default")
        shown = _("(none)") if value is None else value
        out(f"{key:<8} {shown!s:<24} {source}")


def language_shown() -> tuple[str, str]:
    """The language in force and where it came from, for ``config show``; a language
    with no catalog says that its screens are English."""
    from voice_coach.cli.options import chosen_language
    from voice_coach.i18n import ENGLISH, has_catalog

    choice = chosen_language()
    code = choice.code or ENGLISH
    if choice.source == "settings":
        source = _("settings file")
    elif choice.source == "locale":
        source = _("your locale ({variable})").format(variable=choice.variable)
    elif choice.source == "option":
        source = "--lang"
    else:
        source = _("default")
    if not has_catalog(code):
        source += _("; ") + _("no screens in {lang}: shown in English").format(lang=code)
    return code, source
