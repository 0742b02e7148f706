"""NIK parsing, masking and comparison with the form."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sikm_mailbot.domain.nik import check_nik_against_form, mask_nik, nik_problems, parse_nik

TODAY = date(2020, 5, 20)


def make_nik(area: str, born: date, sex: str, serial: int) -> str:
    day = born.day + (40 if sex == "P" else 0)
    return f"{area}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


areas = st.from_regex(r"[0-9]{6}", fullmatch=True)
# Birth dates the century rule can recover: not in the future, age ≤ 120, and
# (for 1900-1920) not shadowed by a same-YY date in 2000-2020.
birth_dates = st.dates(min_value=date(1921, 1, 1), max_value=TODAY)


@given(areas, birth_dates, st.sampled_from("LP"), st.integers(1, 9999))
def test_valid_constructed_nik_parses_back(area, born, sex, serial):
    info = parse_nik(make_nik(area, born, sex, serial), TODAY)
    assert info.problems == []
    assert (info.province, info.regency, info.district) == (area[:2], area[2:4], area[4:])
    assert info.birth_date == born
    assert info.sex == sex
    assert info.serial == f"{serial:04d}"


@given(st.from_regex(r"[0-9]{16}", fullmatch=True), st.dates())
def test_any_16_digits_never_raises(nik, today):
    info = parse_nik(nik, today)
    assert set(info.problems) <= {"nik_date", "nik_serial"}
    if info.birth_date is not None:
        assert info.birth_date <= today


@given(st.text(max_size=40))
def test_any_text_never_raises(text):
    info = parse_nik(text, TODAY)
    assert isinstance(info.problems, list)


@given(areas, st.integers(41, 71), st.integers(1, 12), st.integers(1, 9999))
def test_day_41_to_71_is_a_woman(area, day, month, serial):
    nik = f"{area}{day:02d}{month:02d}85{serial:04d}"
    info = parse_nik(nik, TODAY)
    assert info.sex == "P"
    if info.birth_date:
        assert info.birth_date.day == day - 40


@given(areas, st.sampled_from([0, *range(32, 41), *range(72, 100)]), st.integers(1, 9999))
def test_impossible_day_is_nik_date(area, day, serial):
    info = parse_nik(f"{area}{day:02d}0385{serial:04d}", TODAY)
    assert "nik_date" in info.problems
    assert info.birth_date is None


@pytest.mark.parametrize(("day", "sex"), [(1, "L"), (31, "L"), (41, "P"), (71, "P")])
def test_day_boundaries_valid(day, sex):
    info = parse_nik(f"317101{day:02d}0385{1:04d}", TODAY)
    assert (info.problems, info.sex) == ([], sex)


@pytest.mark.parametrize("day", [0, 32, 40, 72, 99])
def test_day_boundaries_invalid(day):
    info = parse_nik(f"317101{day:02d}03850001", TODAY)
    assert info.problems == ["nik_date"]


@pytest.mark.parametrize(
    "date_part",
    ["310285", "300285", "710285", "011385", "010085", "290201"],  # 31 Feb, 30 Feb, month 13/00
)
def test_impossible_date_is_nik_date(date_part):
    assert "nik_date" in parse_nik(f"317101{date_part}0001", TODAY).problems


def test_serial_0000_is_nik_serial():
    info = parse_nik("3171011203900000", TODAY)
    assert info.problems == ["nik_serial"]
    assert info.birth_date == date(1990, 3, 12)


@pytest.mark.parametrize("text", ["", "123", "31710112039000011", "317101120390000A", "3171x1"])
def test_not_16_digits_is_nik_format(text):
    info = parse_nik(text, TODAY)
    assert info.problems == ["nik_format"]
    assert info.province is None and info.birth_date is None


def test_separators_are_ignored():
    assert parse_nik("3171 0112 0390 0001", TODAY).problems == []
    assert parse_nik("3171.0112.0390.0001", TODAY).nik == "3171011203900001"


def test_century_is_not_in_the_future():
    # YY = 20 on 20 May 2020: March 2020 is a newborn, June must be 1920.
    assert parse_nik("3171011203200001", TODAY).birth_date == date(2020, 3, 12)
    assert parse_nik("3171010106200001", TODAY).birth_date == date(1920, 6, 1)
    assert parse_nik("3171011203000001", TODAY).birth_date == date(2000, 3, 12)


def test_29_february_picks_the_leap_century():
    # 29-02-00: 2000 was a leap year, 1900 was not.
    assert parse_nik("3171012902000001", TODAY).birth_date == date(2000, 2, 29)
    # 29-02-01 exists in neither 2001 nor 1901.
    assert "nik_date" in parse_nik("3171012902010001", TODAY).problems


def test_age_over_120_is_nik_date():
    # 29-02-00 seen from 2101: 2100 is no leap year, so 2000 (age 101).
    assert parse_nik("3171012902000001", date(2101, 1, 1)).birth_date == date(2000, 2, 29)
    # Seen from 2150 the only 29-02-00 left is 2000, 150 years ago: impossible.
    assert "nik_date" in parse_nik("3171012902000001", date(2150, 1, 1)).problems


@given(st.text(max_size=40))
def test_mask_never_shows_more_than_4_digits(text):
    masked = mask_nik(text)
    assert len(re.findall(r"[0-9]", masked)) <= 4
    assert set(masked) <= set("*0123456789")


def test_mask_shows_last_four():
    assert mask_nik("3171011203900001") == "************0001"
    assert mask_nik("3171 0112 0390 1234").endswith("1234")
    assert mask_nik("1234") == "****"


def test_mismatches_against_the_form():
    nik = "3171015203900001"  # woman, 12-03-1990
    assert check_nik_against_form(nik, date(1990, 3, 12), "P") == []
    problems = check_nik_against_form(nik, date(1990, 3, 13), "L", today=TODAY)
    assert [p.code for p in problems] == ["nik_birthdate_mismatch", "nik_sex_mismatch"]
    assert all(p.field == "nik" for p in problems)
    assert "12-03-1990" in problems[0].message_id
    assert "Tanggal Lahir" in problems[0].message_id
    assert "perempuan" in problems[1].message_id
    assert "female" in problems[1].message_en


def test_mismatch_ignores_the_century_and_unknowns():
    nik = "3171011203200001"  # 12-03-20: 2020 or 1920, the NIK cannot say
    assert check_nik_against_form(nik, date(1920, 3, 12), "L", today=TODAY) == []
    assert check_nik_against_form(nik, None, None, today=TODAY) == []
    assert check_nik_against_form("123", date(1990, 1, 1), "L", today=TODAY) == []


def test_nik_problems_name_the_field():
    [problem] = nik_problems("123", "penjamin_nik", TODAY)
    assert (problem.field, problem.code) == ("penjamin_nik", "nik_format")
    assert "NIK Penjamin" in problem.message_id and "NIK Penjamin" in problem.message_en
    # The message never repeats the number itself.
    [problem] = nik_problems("3171011203900000", "nik", TODAY)
    assert "3171011203900000" not in problem.message_id + problem.message_en
