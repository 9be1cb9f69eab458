"""Exporting the calendar as iCalendar (RFC 5545), for the organism's own calendar
application: one event per post, at its local time with the zone's VTIMEZONE, so
that it shows at the right hour across daylight-saving changes."""

from __future__ import annotations

import datetime as dt

import icalendar

from canales import __version__
from canales.core.site import Site
from canales.plugins.publisher.drafts import settings_of
from canales.plugins.publisher.models import Post
from canales.plugins.publisher.notices import title
from canales.plugins.publisher.texts import label
from canales.plugins.publisher.workflow import list_posts

EXPORTED = ("draft", "pending_approval", "scheduled", "publishing", "retrying", "published", "failed",
            "unconfirmed", "expired", "missed")
_STATUS = {"draft": "TENTATIVE", "pending_approval": "TENTATIVE", "expired": "CANCELLED", "missed": "CANCELLED",
           "failed": "CANCELLED"}
DURATION = dt.timedelta(minutes=15)


def calendar_of(site: Site, posts: list[Post]) -> icalendar.Calendar:
    """An iCalendar object with one VEVENT per post."""
    texts = settings_of(site).texts
    tz = site.config.tz
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//canales {__version__}//publisher//ES")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"Publicaciones · {site.name}")
    cal.add("x-wr-timezone", tz.key)
    stamp = site.now()
    for post in posts:
        event = icalendar.Event()
        event.add("uid", f"{post.key}@{site.id}.canales")
        event.add("dtstamp", stamp)
        start = post.publish_at.astimezone(tz)
        event.add("dtstart", start)
        event.add("dtend", start + DURATION)
        event.add("summary", f"[{label(texts, f'category.{post.category}')}] {title(post)}")
        event.add("description", f"{post.summary}\n\n{post.link}\n\n{label(texts, f'state.{post.state}')}")
        event.add("url", post.link)
        event.add("categories", [label(texts, f"category.{post.category}")])
        event.add("status", _STATUS.get(post.state, "CONFIRMED"))
        event.add("last-modified", post.updated_at)
        event.add("sequence", post.version)
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal


async def export_ics(site: Site, start: dt.datetime | None = None, end: dt.datetime | None = None) -> bytes:
    """The site's posts (not cancelled) within ``[start, end)`` as an .ics file."""
    posts = await list_posts(site, states=EXPORTED, start=start, end=end)
    return calendar_of(site, posts).to_ical()
