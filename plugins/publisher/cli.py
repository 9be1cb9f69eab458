"""``canales posts …``: list, import a CSV plan, export the calendar (.ics), show
the cadence, and run one scheduler pass (``publish-due``, for cron or for running
the scheduler outside the web workers)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlmodel import select

from canales.core.plugins import Available, from_module
from canales.core.runtime import Canales
from canales.core.site import Site
from canales.core.siteconfig import ConfigError


def _extra(pairs: list[str] | None) -> dict[str, Available]:
    extra = {}
    for pair in pairs or ():
        name, sep, module = pair.partition("=")
        if not sep or not name or not module:
            raise ConfigError(f"--plugin expects NAME=MODULE, got {pair!r}")
        extra[name] = from_module(name, module)
    return extra


@asynccontextmanager
async def _site(args: argparse.Namespace) -> AsyncIterator[Site]:
    from canales.core.cli import default_database_url, resolve_site

    canales = Canales([resolve_site(args.site)], database_url=args.database_url or default_database_url(),
                      plugins=_extra(args.plugin), background=False)
    site = next(iter(canales.sites.values()))
    if not site.has_plugin("publisher"):
        raise ConfigError(f"{site.config.path}: plugins.publisher: the publisher is not enabled on site {site.id!r}")
    await canales.start()
    try:
        yield site
    finally:
        await canales.stop()


def _day(value: str | None, site: Site, end: bool = False) -> dt.datetime | None:
    if not value:
        return None
    day = dt.date.fromisoformat(value) + dt.timedelta(days=1 if end else 0)
    return dt.datetime.combine(day, dt.time(0), tzinfo=site.config.tz).astimezone(dt.timezone.utc)


async def _agent_id(site: Site, email: str) -> int:
    from canales.core.models import Agent

    async with site.db.read() as session:
        agent = (await session.exec(select(Agent).where(Agent.email == email.strip().lower()))).first()
    if agent is None or agent.id is None:
        raise ConfigError(f"no agent {email!r}; create one with: canales agent add --site {site.id} --email …")
    return agent.id


async def cmd_list(args: argparse.Namespace) -> int:
    from canales.plugins.publisher.workflow import list_posts

    async with _site(args) as site:
        posts = await list_posts(site, states=args.state, start=_day(args.since, site), end=_day(args.until, site, True))
        tz = site.config.tz
        if args.json:
            print(json.dumps([{**p.model_dump(mode="json"), "local_time": p.publish_at.astimezone(tz).isoformat()}
                              for p in posts], ensure_ascii=False, indent=2))
            return 0
        for p in posts:
            when = p.publish_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            text = " ".join(p.summary.split())
            print(f"{p.id:>6}  {when}  {p.state:<16} {p.category:<20} {text[:60]}")
        print(f"{len(posts)} post(s), times in {tz.key}")
    return 0


async def cmd_import(args: argparse.Namespace) -> int:
    from canales.plugins.publisher.plan import PlanInvalid, import_plan
    from canales.plugins.publisher.workflow import PostError

    data = sys.stdin.buffer.read() if str(args.file) == "-" else Path(args.file).read_bytes()
    async with _site(args) as site:
        agent_id = await _agent_id(site, args.agent)
        try:
            report = await import_plan(site, agent_id, data, state=args.state)
        except PlanInvalid as exc:
            print(f"{args.file}: nada importado.", file=sys.stderr)
            for line in exc.lines:
                print(f"  {line}", file=sys.stderr)
            return 1
        except PostError as exc:
            print(f"{args.file}: {exc}", file=sys.stderr)
            return 1
    print(f"{args.file}: {len(report.created)} publicación(es) importada(s) como {args.state}"
          + (f"; filas ya importadas antes: {', '.join(map(str, report.skipped_rows))}" if report.skipped_rows else ""))
    return 0


async def cmd_export(args: argparse.Namespace) -> int:
    from canales.plugins.publisher.ical import export_ics

    async with _site(args) as site:
        data = await export_ics(site, _day(args.since, site), _day(args.until, site, True))
    if args.output and str(args.output) != "-":
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


async def cmd_cadence(args: argparse.Namespace) -> int:
    from canales.plugins.publisher.cadence import cadence

    async with _site(args) as site:
        weeks = await cadence(site, args.weeks)
    for week in weeks:
        mark = "!" if week.warn else " "
        slots = ", ".join(s.local for s in week.suggestions)
        print(f"{mark} {week.message}" + (f" Libres: {slots}" if week.warn and slots else ""))
    return 0


async def cmd_publish_due(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from canales.plugins.publisher import recurrence, scheduler
    from canales.plugins.publisher.drafts import settings_of

    async with _site(args) as site:
        if args.for_seconds:
            print(f"publish-due: site {site.id}: a pass every {settings_of(site).poll_seconds:g} s "
                  f"for {args.for_seconds:g} s", file=sys.stderr, flush=True)
        await recurrence.generate(site)
        report = await scheduler.run_once(site)
        # --for: keep passing every poll_seconds (a cron job started every minute
        # with --for 55 publishes within seconds of each post's time).
        deadline = time.monotonic() + (args.for_seconds or 0)
        while time.monotonic() < deadline:
            await asyncio.sleep(min(settings_of(site).poll_seconds, max(0.0, deadline - time.monotonic())))
            report.add(await scheduler.run_once(site))
    print(f"site {site.id}: claimed {report.claimed}, published {report.published}, retrying {report.retrying}, "
          f"unconfirmed {report.unconfirmed}, reconciled {report.reconciled}, failed {report.failed}, "
          f"expired {report.expired}, missed {report.missed}")
    return 0


def add_commands(subparsers: Any) -> None:
    """Register ``canales posts …``."""
    posts = subparsers.add_parser("posts", help="scheduled posts: list, import, export, cadence, publish-due")
    sub = posts.add_subparsers(dest="posts_command", required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--site", required=True, help="site file or id")
        parser.add_argument("--database-url", help="default: $DATABASE_URL or sqlite:///canales.db")
        parser.add_argument("--plugin", action="append", metavar="NAME=MODULE",
                            help="make a module that is not installed available as plugin NAME (repeatable)")
        return parser

    listing = common(sub.add_parser("list", help="the site's posts by time"))
    listing.add_argument("--state", action="append", help="only posts in this state (repeatable)")
    listing.add_argument("--since", help="from this local date (YYYY-MM-DD)")
    listing.add_argument("--until", help="up to this local date, included")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)

    importing = common(sub.add_parser("import", help="import a CSV posting plan (all rows or none)"))
    importing.add_argument("file", help="the CSV file (- for standard input); columns in docs/publisher.md")
    importing.add_argument("--agent", required=True, help="e-mail of the agent the posts are from")
    importing.add_argument("--state", choices=["draft", "pending_approval", "scheduled"], default="pending_approval",
                           help="scheduled (already approved) needs a supervisor or admin")
    importing.set_defaults(func=cmd_import)

    export = common(sub.add_parser("export", help="export the calendar as iCalendar (.ics)"))
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.add_argument("--since", help="from this local date (YYYY-MM-DD)")
    export.add_argument("--until", help="up to this local date, included")
    export.set_defaults(func=cmd_export)

    cadence = common(sub.add_parser("cadence", help="posts per week against the target, with free slots"))
    cadence.add_argument("--weeks", type=int, default=4)
    cadence.set_defaults(func=cmd_cadence)

    due = common(sub.add_parser("publish-due", help="run one scheduler pass: publish every due post once"))
    due.add_argument("--for", dest="for_seconds", type=float, default=0.0, metavar="SECONDS",
                     help="keep running passes every poll_seconds for this long")
    due.set_defaults(func=cmd_publish_due)
