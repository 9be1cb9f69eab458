"""Business hours: when a site (or a team) answers, with split shifts, holidays and
one-off closures, in the site's own time zone.

All arguments and results are timezone-aware datetimes; naive ones are refused
because "09:00" means nothing without a zone (Postiz's 1-hour drift came from that).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from canales.core.siteconfig import Holidays, Hours

_DAY = 24 * 60
# How far ahead to look for the next opening: a year and a bit covers any calendar.
_HORIZON_DAYS = 400


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("business hours need a timezone-aware datetime")
    return at


class BusinessHours:
    """Answers "are we open?", "when do we open next?" and "when did we last close?".

    ``weekly`` maps a weekday (Monday = 0) to its shifts in minutes since midnight;
    ``closed_days`` says whether a date is a holiday or a closure (and which).
    """

    def __init__(
        self,
        tz: ZoneInfo,
        weekly: dict[int, list[tuple[int, int]]],
        holiday_calendar: holidays_lib.HolidayBase | None = None,
        closures: Iterable[dt.date] = (),
    ) -> None:
        self.tz = tz
        self.weekly = {d: sorted(weekly.get(d, [])) for d in range(7)}
        self._holidays = holiday_calendar
        self._closures = frozenset(closures)

    @classmethod
    def from_config(cls, timezone: str, hours: Hours, holidays: Holidays) -> "BusinessHours":
        calendar = None
        if holidays.categories:
            calendar = holidays_lib.country_holidays(
                holidays.country,
                subdiv=holidays.subdivision,
                categories=tuple(holidays.categories),
                language="es",
            )
        return cls(ZoneInfo(timezone), hours.weekly(), calendar, holidays.closures)

    # -- days ------------------------------------------------------------------

    def closed_reason(self, day: dt.date) -> str | None:
        """The holiday's name (in Spanish) or ``"cierre"`` if ``day`` is closed all
        day by the calendar; ``None`` on an ordinary day."""
        if day in self._closures:
            return "cierre"
        if self._holidays is not None and day in self._holidays:
            return str(self._holidays.get(day))
        return None

    def shifts_on(self, day: dt.date) -> list[tuple[int, int]]:
        """The day's shifts in minutes, or ``[]`` on a holiday or closure."""
        if self.closed_reason(day) is not None:
            return []
        return self.weekly[day.weekday()]

    def _at(self, day: dt.date, minute: int) -> dt.datetime:
        """The wall-clock moment ``minute`` minutes after ``day``'s midnight, so that
        "08:00" stays 08:00 on a daylight-saving day (a zone with DST may be used)."""
        if minute >= _DAY:
            day, minute = day + dt.timedelta(days=1), minute - _DAY
        return dt.datetime.combine(day, dt.time(minute // 60, minute % 60), tzinfo=self.tz)

    # -- questions --------------------------------------------------------------

    def is_open(self, at: dt.datetime) -> bool:
        """True when ``at`` falls inside a shift of a day that is not closed."""
        local = _aware(at).astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.shifts_on(local.date()))

    def next_opening(self, at: dt.datetime) -> dt.datetime | None:
        """The next moment at or after ``at`` when the site is open (``at`` itself if
        open now); ``None`` if it never opens within a year."""
        local = _aware(at).astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        for offset in range(_HORIZON_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for start, end in self.shifts_on(day):
                if offset == 0:
                    if start <= minute < end:
                        return at
                    if start <= minute:
                        continue
                return self._at(day, start)
        return None

    def closing_time(self, at: dt.datetime) -> dt.datetime | None:
        """When the current opening ends (following shifts that meet at midnight);
        ``None`` if closed now, or if it never closes within a week (24 h)."""
        if not self.is_open(at):
            return None
        local = _aware(at).astimezone(self.tz)
        day = local.date()
        minute = local.hour * 60 + local.minute
        for _ in range(8):
            shifts = self.shifts_on(day)
            current = next((s for s in shifts if s[0] <= minute < s[1]), None)
            if current is None:  # pragma: no cover - is_open guarantees a shift
                return None
            if current[1] < _DAY:
                return self._at(day, current[1])
            day = day + dt.timedelta(days=1)
            minute = 0
            if not any(start == 0 for start, _ in self.shifts_on(day)):
                return self._at(day, 0)
        return None

    def last_opening(self, at: dt.datetime) -> dt.datetime | None:
        """When the current (or, if closed, the most recent) opening began: the
        start of the "backlog" window is the end of the previous opening, and
        everything after it and before this opening arrived while closed."""
        local = _aware(at).astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        for offset in range(_HORIZON_DAYS):
            day = local.date() - dt.timedelta(days=offset)
            for start, end in reversed(self.shifts_on(day)):
                if offset == 0 and start > minute:
                    continue
                # Follow the opening back across midnight (a site open around
                # the clock has no opening within the horizon: None).
                for _ in range(_HORIZON_DAYS):
                    if start != 0:
                        break
                    prev = day - dt.timedelta(days=1)
                    prev_shifts = self.shifts_on(prev)
                    if not (prev_shifts and prev_shifts[-1][1] == _DAY):
                        break
                    day, start = prev, prev_shifts[-1][0]
                else:
                    return None
                return self._at(day, start)
        return None

    def previous_closing(self, at: dt.datetime) -> dt.datetime | None:
        """When the site last closed before ``at`` (or before the opening ``at`` is
        in); ``None`` if it has not closed within a year."""
        opening = self.last_opening(at) if self.is_open(at) else at
        if opening is None:
            return None
        local = opening.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        for offset in range(_HORIZON_DAYS):
            day = local.date() - dt.timedelta(days=offset)
            for start, end in reversed(self.shifts_on(day)):
                if offset == 0 and end > minute:
                    continue
                if end == _DAY:
                    nxt = day + dt.timedelta(days=1)
                    if any(s == 0 for s, _ in self.shifts_on(nxt)):
                        continue
                return self._at(day, end)
        return None
