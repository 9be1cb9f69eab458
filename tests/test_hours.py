"""Business hours with split shifts, Uruguay's holidays, closures and time zones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from canales.core.hours import BusinessHours
from canales.core.siteconfig import Holidays, Hours

MVD = ZoneInfo("America/Montevideo")


def mvd(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=MVD)


@pytest.fixture
def hours() -> BusinessHours:
    weekday = ["08:00-13:00", "14:00-20:00"]
    return BusinessHours.from_config(
        "America/Montevideo",
        Hours(mon=weekday, tue=weekday, wed=weekday, thu=weekday, fri=weekday, sat=["09:00-13:00"]),
        Holidays(categories=["public", "bank"], closures=[dt.date(2026, 12, 24)]),
    )


def test_split_shifts(hours: BusinessHours) -> None:
    # Thursday 2026-11-26
    assert not hours.is_open(mvd(2026, 11, 26, 7, 59))
    assert hours.is_open(mvd(2026, 11, 26, 8, 0))
    assert hours.is_open(mvd(2026, 11, 26, 12, 59))
    assert not hours.is_open(mvd(2026, 11, 26, 13, 30))  # lunch
    assert hours.is_open(mvd(2026, 11, 26, 14, 0))
    assert not hours.is_open(mvd(2026, 11, 26, 20, 0))
    assert not hours.is_open(mvd(2026, 11, 29, 10, 0))  # Sunday


def test_comparisons_happen_in_the_sites_zone(hours: BusinessHours) -> None:
    # 10:30 UTC is 07:30 in Montevideo (UTC-3): closed; 11:00 UTC is 08:00: open.
    assert not hours.is_open(dt.datetime(2026, 11, 26, 10, 30, tzinfo=dt.timezone.utc))
    assert hours.is_open(dt.datetime(2026, 11, 26, 11, 0, tzinfo=dt.timezone.utc))


def test_naive_datetimes_are_refused(hours: BusinessHours) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        hours.is_open(dt.datetime(2026, 11, 26, 10, 0))


def test_public_bank_holidays_and_closures(hours: BusinessHours) -> None:
    assert hours.closed_reason(dt.date(2026, 5, 1)) == "Día de los Trabajadores"  # public
    assert hours.closed_reason(dt.date(2026, 2, 16)) == "Carnaval"  # bank (a Monday)
    assert hours.closed_reason(dt.date(2026, 3, 31)) == "Semana de Turismo"
    assert hours.closed_reason(dt.date(2026, 12, 24)) == "cierre"
    assert hours.closed_reason(dt.date(2026, 11, 26)) is None
    assert not hours.is_open(mvd(2026, 2, 16, 10, 0))
    assert not hours.is_open(mvd(2026, 12, 24, 10, 0))


def test_only_public_holidays_when_asked() -> None:
    hours = BusinessHours.from_config(
        "America/Montevideo", Hours(mon=["09:00-17:00"]), Holidays(categories=["public"])
    )
    assert hours.is_open(mvd(2026, 2, 16, 10, 0))  # Carnaval Monday is a "bank" holiday
    assert hours.closed_reason(dt.date(2026, 5, 1)) is not None


def test_next_opening(hours: BusinessHours) -> None:
    assert hours.next_opening(mvd(2026, 11, 26, 10, 0)) == mvd(2026, 11, 26, 10, 0)  # open now
    assert hours.next_opening(mvd(2026, 11, 26, 13, 15)) == mvd(2026, 11, 26, 14, 0)
    assert hours.next_opening(mvd(2026, 11, 26, 21, 0)) == mvd(2026, 11, 27, 8, 0)
    assert hours.next_opening(mvd(2026, 11, 28, 14, 0)) == mvd(2026, 11, 30, 8, 0)  # Sat afternoon -> Monday
    # Carnaval: Friday evening 2026-02-13 -> Monday and Tuesday are holidays -> Wednesday.
    assert hours.next_opening(mvd(2026, 2, 13, 21, 0)) == mvd(2026, 2, 14, 9, 0)
    assert hours.next_opening(mvd(2026, 2, 14, 13, 0)) == mvd(2026, 2, 18, 8, 0)
    # Semana de Turismo, Monday to Friday.
    assert hours.next_opening(mvd(2026, 3, 28, 14, 0)) == mvd(2026, 4, 4, 9, 0)


def test_closing_time_and_last_closing(hours: BusinessHours) -> None:
    assert hours.closing_time(mvd(2026, 11, 26, 9, 0)) == mvd(2026, 11, 26, 13, 0)
    assert hours.closing_time(mvd(2026, 11, 26, 13, 30)) is None
    assert hours.last_opening(mvd(2026, 11, 26, 15, 0)) == mvd(2026, 11, 26, 14, 0)
    # Monday 08:30: the backlog is everything since Saturday 13:00.
    assert hours.previous_closing(mvd(2026, 11, 30, 8, 30)) == mvd(2026, 11, 28, 13, 0)
    assert hours.previous_closing(mvd(2026, 11, 26, 13, 30)) == mvd(2026, 11, 26, 13, 0)


def test_round_the_clock() -> None:
    hours = BusinessHours.from_config("America/Montevideo", Hours(always=True), Holidays(categories=[]))
    at = mvd(2026, 1, 1, 3, 0)
    assert hours.is_open(at)
    assert hours.next_opening(at) == at
    assert hours.closing_time(at) is None  # never closes


def test_night_shift_across_midnight() -> None:
    hours = BusinessHours.from_config(
        "America/Montevideo",
        Hours(mon=["20:00-24:00"], tue=["00:00-06:00"]),
        Holidays(categories=[]),
    )
    assert hours.is_open(mvd(2026, 11, 30, 23, 0))
    assert hours.is_open(mvd(2026, 12, 1, 5, 59))
    assert hours.closing_time(mvd(2026, 11, 30, 23, 0)) == mvd(2026, 12, 1, 6, 0)
    assert hours.last_opening(mvd(2026, 12, 1, 3, 0)) == mvd(2026, 11, 30, 20, 0)


def test_a_zone_with_daylight_saving_keeps_wall_clock_hours() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    hours = BusinessHours.from_config("Europe/Madrid", Hours(sun=["09:00-14:00"], mon=["09:00-14:00"]), Holidays(categories=[]))
    # Spain moved to summer time on Sunday 2026-03-29 at 02:00.
    opening = hours.next_opening(dt.datetime(2026, 3, 29, 0, 30, tzinfo=madrid))
    assert opening == dt.datetime(2026, 3, 29, 9, 0, tzinfo=madrid)
    assert opening.utcoffset() == dt.timedelta(hours=2)
    before = hours.next_opening(dt.datetime(2026, 3, 22, 0, 30, tzinfo=madrid))
    assert before is not None and before.utcoffset() == dt.timedelta(hours=1)
    assert before.hour == opening.hour == 9


def test_never_open() -> None:
    hours = BusinessHours.from_config("America/Montevideo", Hours(), Holidays(categories=[]))
    assert hours.next_opening(mvd(2026, 1, 1, 0, 0)) is None
    assert hours.previous_closing(mvd(2026, 1, 1, 0, 0)) is None
