"""The ``canales`` command line: ``serve``, ``check``, ``db upgrade``, ``agent add``,
``plugins``, plus whatever installed plugins add through ``register_commands``."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from canales import __version__
from canales.core import migrate
from canales.core.http import WS_MAX_SIZE
from canales.core.plugins import from_module, hooks_of, installed, new_manager
from canales.core.siteconfig import ConfigError, SiteConfig, WEEKDAYS, load_site_file, redacted

DEMO_SITE = "demo"
DEMO_AGENT = "demo@ejemplo.gub.uy"
DEMO_SECRETS = (
    "CANALES_DEMO_API_SECRET",
    "CANALES_DEMO_FB_APP_SECRET",
    "CANALES_DEMO_FB_PAGE_TOKEN",
    "CANALES_DEMO_FB_VERIFY_TOKEN",
)


def default_database_url() -> str:
    return os.environ.get("DATABASE_URL", "sqlite:///canales.db")


def sites_dir() -> Path:
    """Where site ids are looked up: ``$CANALES_SITES_DIR``, else ``./sites``, else
    the ``sites/`` folder of the source checkout."""
    configured = os.environ.get("CANALES_SITES_DIR")
    if configured:
        return Path(configured)
    local = Path("sites")
    if local.is_dir():
        return local
    return Path(__file__).resolve().parent.parent / "sites"


def resolve_site(value: str) -> Path:
    """A site argument is a file path, or a site id looked up in :func:`sites_dir`."""
    path = Path(value)
    if path.suffix == ".toml" or path.exists():
        return path
    candidate = sites_dir() / f"{value}.toml"
    if candidate.exists():
        return candidate
    raise ConfigError(f"no site file {value!r} and no {candidate}")


def _plugin_modules(pairs: Sequence[str] | None) -> dict[str, Any]:
    extra = {}
    for pair in pairs or ():
        name, sep, module = pair.partition("=")
        if not sep or not name or not module:
            raise ConfigError(f"--plugin expects NAME=MODULE, got {pair!r}")
        extra[name] = from_module(name, module)
    return extra


def _run(result: Any) -> int:
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    return int(result or 0)


# --- serve ---------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    demo = not args.site
    files = [resolve_site(s) for s in (args.site or [DEMO_SITE])]
    if demo:
        for name in DEMO_SECRETS:
            os.environ.setdefault(name, secrets.token_urlsafe(24))
    database_url = args.database_url or default_database_url()
    os.environ["CANALES_SITES"] = os.pathsep.join(str(f.resolve()) for f in files)
    os.environ["DATABASE_URL"] = database_url
    if args.redis_url:
        os.environ["REDIS_URL"] = args.redis_url
    if args.plugin:
        os.environ["CANALES_PLUGIN_MODULES"] = ",".join(args.plugin)
    extra = _plugin_modules(args.plugin)

    from canales.core.runtime import Canales

    # Refuse a bad config before anything starts (and before workers fork).
    canales = Canales(files, database_url=database_url, plugins=extra, background=False)
    if not args.no_migrate:
        asyncio.run(migrate.upgrade(database_url, extra))
    if demo:
        asyncio.run(_demo_agent(canales))
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Metrics of every worker, summed by whichever answers the scrape.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="canales-metrics-")
    from canales.core.logs import log_config

    log_format = args.log_format or ("text" if sys.stderr.isatty() else "json")
    print(f"canales {__version__}: serving {', '.join(canales.sites)} at http://{args.host}:{args.port}")
    print(f"agents' inbox: http://{args.host}:{args.port}/inbox/")
    uvicorn.run(
        "canales.core.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        log_config=log_config(log_format, args.log_level),
        proxy_headers=True,
        ws_max_size=WS_MAX_SIZE,
        # Chat frames are small: compressing them saves little and costs some 40 KiB
        # of zlib state per open socket (docs/live-chat.md, "Performance").
        ws_per_message_deflate=False,
    )
    return 0


async def _demo_agent(canales: Any) -> None:
    from canales.core.agents import add_agent, set_password
    from canales.core.inbox.demo import seed
    from canales.core.passwords import generate_password

    await canales.sync_sites()
    password = generate_password()
    await add_agent(
        canales.db, email=DEMO_AGENT, name="Agente de Demostración", password=password,
        site_id=DEMO_SITE, role="admin",
    )
    await set_password(canales.db, DEMO_AGENT, password)
    if await seed(canales.sites[DEMO_SITE]):
        print("demo site: added sample teams, canned answers and conversations")
    await canales.db.close()
    print(f"demo agent: {DEMO_AGENT}  password: {password}  (new at every start)")
    print(f"API channel secret: {os.environ['CANALES_DEMO_API_SECRET']}")


# --- check ----------------------------------------------------------------------------


def _describe(config: SiteConfig, site: Any) -> str:
    lines = [f"{config.path}: site {config.id!r} ({config.name}) — OK", f"  time zone: {config.timezone}"]
    weekly = config.hours.weekly()
    for i, day in enumerate(WEEKDAYS):
        shifts = ", ".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in weekly[i])
        lines.append(f"  {day}: {shifts or 'closed'}")
    lines.append(f"  holidays: {config.holidays.country} {', '.join(config.holidays.categories) or 'none'}"
                 f"; closures: {', '.join(str(d) for d in config.holidays.closures) or 'none'}")
    lines.append(f"  plugins: {', '.join(site.plugins) or 'none'}")
    return "\n".join(lines)


def cmd_check(args: argparse.Namespace) -> int:
    from canales.core.bus import Bus
    from canales.core.db import Database
    from canales.core.site import build_site

    files = [resolve_site(s) for s in args.files] or sorted(sites_dir().glob("*.toml"))
    if not files:
        print("no site files to check", file=sys.stderr)
        return 1
    available = {**installed(), **_plugin_modules(args.plugin)}
    db = Database("sqlite://")
    failed = False
    seen: dict[str, Path] = {}
    for file in files:
        try:
            config = load_site_file(file)
            if config.id in seen:
                raise ConfigError(f"{file}: id: site {config.id!r} is already defined in {seen[config.id]}")
            seen[config.id] = file
            site = build_site(config, available, db, Bus())
        except ConfigError as exc:
            failed = True
            print(str(exc), file=sys.stderr)
            continue
        print(_describe(config, site))
        if args.show:
            shown = config.model_dump(mode="json", exclude={"plugins"})
            shown["plugins"] = redacted(config.plugins)
            print(json.dumps(shown, indent=2, ensure_ascii=False))
    return 1 if failed else 0


# --- db -------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    url = args.database_url or default_database_url()
    extra = _plugin_modules(args.plugin)
    asyncio.run(migrate.upgrade(url, extra))
    print(f"database {url} is at the newest schema: {', '.join(sorted(migrate.heads(extra)))}")
    return 0


def cmd_db_revision(args: argparse.Namespace) -> int:
    import tempfile

    extra = _plugin_modules(args.plugin)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{scratch}/revision.db"
        if not args.database_url:
            asyncio.run(migrate.upgrade(url, extra))
        asyncio.run(migrate.revision(url, args.message, branch=args.branch, version_path=args.version_path, extra=extra))
    return 0


# --- agent ----------------------------------------------------------------------------


def cmd_agent_add(args: argparse.Namespace) -> int:
    from canales.core.agents import AgentError, add_agent
    from canales.core.passwords import WeakPassword, generate_password
    from canales.core.runtime import Canales

    url = args.database_url or default_database_url()
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else generate_password()

    async def run() -> int:
        canales = Canales([resolve_site(args.site)], database_url=url, background=False)
        try:
            await canales.sync_sites()
            site_id = next(iter(canales.sites))
            await add_agent(canales.db, email=args.email, name=args.name, password=password, site_id=site_id, role=args.role)
        finally:
            await canales.db.close()
        print(f"agent {args.email} is {args.role} of site {site_id}")
        if not args.password_stdin:
            print(f"password: {password}")
        return 0

    try:
        return asyncio.run(run())
    except (AgentError, WeakPassword) as exc:
        print(f"canales agent add: {exc}", file=sys.stderr)
        return 1


# --- privacy ---------------------------------------------------------------------------


def cmd_privacy(args: argparse.Namespace) -> int:
    from canales.core import retention
    from canales.core.routing import NotFound
    from canales.core.runtime import Canales

    url = args.database_url or default_database_url()

    async def run() -> int:
        canales = Canales([resolve_site(args.site)], database_url=url, background=False)
        site = next(iter(canales.sites.values()))
        await canales.start()
        try:
            if args.privacy_command == "export":
                data = json.dumps(await retention.export_contact(site, args.contact), ensure_ascii=False, indent=2)
                if args.out:
                    Path(args.out).write_text(data, "utf-8")
                    print(f"contact {args.contact} of site {site.id}: exported to {args.out}")
                else:
                    print(data)
            elif args.privacy_command == "forget":
                if not args.yes:
                    print("canales privacy forget: add --yes to erase everything stored about the contact", file=sys.stderr)
                    return 1
                count = await retention.forget_contact(site, args.contact)
                print(f"contact {args.contact} of site {site.id}: erased, with {count} conversations")
            else:
                total = 0
                while done := await retention.expire(site):
                    total += done
                print(f"site {site.id}: {total} conversations past the retention period {site.config.privacy.retention} "
                      f"({site.config.privacy.retention_days or 'no'} days)")
        except NotFound:
            print(f"canales privacy: no contact {args.contact} on site {site.id}", file=sys.stderr)
            return 1
        finally:
            await canales.stop()
        return 0

    return asyncio.run(run())


# --- plugins --------------------------------------------------------------------------


def cmd_plugins(args: argparse.Namespace) -> int:
    from canales.core.bus import Bus
    from canales.core.db import Database
    from canales.core.site import build_site

    available = {**installed(), **_plugin_modules(args.plugin)}
    report: dict[str, Any] = {"installed": [], "sites": {}}
    for name, plugin in sorted(available.items()):
        report["installed"].append(
            {"name": name, "module": plugin.target, "distribution": plugin.distribution, "version": plugin.version}
        )
    db = Database("sqlite://")
    for value in args.site or []:
        site = build_site(load_site_file(resolve_site(value)), available, db, Bus())
        report["sites"][site.id] = [
            {"name": name, "version": available[name].version, "hooks": hooks_of(site.pm, name)}
            for name in site.plugins
        ]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("installed plugins:")
    for item in report["installed"]:
        print(f"  {item['name']:<12} {item['version'] or '-':<10} {item['module']}")
    for site_id, plugins in report["sites"].items():
        print(f"site {site_id}:")
        for item in plugins:
            print(f"  {item['name']:<12} {item['version'] or '-':<10} hooks: {', '.join(item['hooks'])}")
    return 0


# --- parser ---------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="canales", description="Digital service channels for government bodies.")
    top.add_argument("--version", action="version", version=f"canales {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plugin_help = "make a module that is not installed available as plugin NAME (repeatable)"

    serve = sub.add_parser("serve", help="serve sites (no --site: the demo, on SQLite)")
    serve.add_argument("--site", action="append", help="site file or id (repeatable)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--database-url", help="default: $DATABASE_URL or sqlite:///canales.db")
    serve.add_argument("--redis-url", default=os.environ.get("REDIS_URL"), help="default: $REDIS_URL (none: in-process bus)")
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema at start")
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--log-format", choices=["json", "text"], help="default: text on a terminal, else json (one object a line)")
    serve.add_argument("--plugin", action="append", metavar="NAME=MODULE", help=plugin_help)
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", help="validate site files (default: every file in sites/)")
    check.add_argument("files", nargs="*")
    check.add_argument("--show", action="store_true", help="print each site's config, secrets redacted")
    check.add_argument("--plugin", action="append", metavar="NAME=MODULE", help=plugin_help)
    check.set_defaults(func=cmd_check)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_sub.add_parser("upgrade", help="create or upgrade the schema (core and every plugin)")
    upgrade.add_argument("--database-url")
    upgrade.add_argument("--plugin", action="append", metavar="NAME=MODULE", help=plugin_help)
    upgrade.set_defaults(func=cmd_db_upgrade)

    rev = db_sub.add_parser("revision", help="write a new migration for core or a plugin (autogenerated)")
    rev.add_argument("-m", "--message", required=True)
    rev.add_argument("--branch", required=True, help='"core" or the plugin\'s name')
    rev.add_argument("--version-path", type=Path, help="the plugin's migrations folder (first revision only)")
    rev.add_argument("--database-url", help="an up-to-date database to compare with (default: a scratch SQLite one)")
    rev.add_argument("--plugin", action="append", metavar="NAME=MODULE", help=plugin_help)
    rev.set_defaults(func=cmd_db_revision)

    agent = sub.add_parser("agent", help="inbox agents")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True, metavar="ACTION")
    add = agent_sub.add_parser("add", help="create an agent, or give an agent a role on another site")
    add.add_argument("--site", required=True, help="site file or id")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--role", choices=["admin", "supervisor", "agent"], default="agent")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input (else one is generated and printed)")
    add.add_argument("--database-url")
    add.set_defaults(func=cmd_agent_add)

    privacy = sub.add_parser("privacy", help="personal data: export or erase a contact's data, apply retention")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True, metavar="ACTION")
    export = privacy_sub.add_parser("export", help="everything stored about one contact, as JSON")
    export.add_argument("--out", help="write to this file (default: standard output)")
    forget = privacy_sub.add_parser("forget", help="erase everything stored about one contact")
    forget.add_argument("--yes", action="store_true", help="confirm the erasure")
    expire = privacy_sub.add_parser("expire", help="anonymise or delete closed conversations past the retention period now")
    for action in (export, forget, expire):
        action.add_argument("--site", required=True, help="site file or id")
        action.add_argument("--database-url")
        action.set_defaults(func=cmd_privacy)
    for action in (export, forget):
        action.add_argument("--contact", type=int, required=True, help="the contact's id (shown in the inbox)")

    plugins = sub.add_parser("plugins", help="installed plugins, and per site: enabled plugins, versions, hooks")
    plugins.add_argument("--site", action="append", help="site file or id (repeatable)")
    plugins.add_argument("--json", action="store_true")
    plugins.add_argument("--plugin", action="append", metavar="NAME=MODULE", help=plugin_help)
    plugins.set_defaults(func=cmd_plugins)

    pm = new_manager()
    for name, available in installed().items():
        try:
            pm.register(available.load(), name=name)
        except ConfigError as exc:
            print(f"canales: {exc}", file=sys.stderr)
    pm.hook.register_commands(subparsers=sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _run(args.func(args))
    except ConfigError as exc:
        print(f"canales: configuration error:\n{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
