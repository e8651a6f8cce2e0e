"""Public figures against a hand-computed fixture (tests/opengov/fixtures.py), and the suppression rule.

Week A (Mon 9 Nov): กรมที่ดิน/โอนที่ดิน 6 (5 completed after 10/20/30/40/50 h, first answers 2..12 h,
ratings 5,4,4,3,5, one reopened, all forwarded from กรมสรรพากร); กรมที่ดิน รังวัด 2 + คัดสำเนา 3 (merged into
"บริการอื่น ๆ" = 5: 3 open, 1 rejected, 1 cancelled); กรมสรรพากร/ภาษีเงินได้ 5 (closes 24,24,48,48,72 h; 2 ratings);
การไฟฟ้าฯ/ไฟฟ้าดับ 4 (under 5, nothing to merge with: withheld). Week B (Mon 16 Nov): กรมที่ดิน 3 + กรมสรรพากร 2
(each under 5, merged into "หน่วยงานอื่น ๆ" = 5). 7 demo requests in week B are never counted as real.

Totals: received 21, open 7, resolved 12 (57.1 %), rejected 1, cancelled 1; first answers 1×7, 2, 4, 5, 6, 8, 10, 12
-> median 1.5 h; closes 5,5,10,20,24,24,30,40,48,48,50,72 -> median 27.0 h; 7 ratings sum 26 -> 3.71; reopened 1;
oldest open request filed 9 Nov ~09:00, now 24 Nov 10:00 -> 15 days.
"""

from __future__ import annotations

import random
from datetime import timedelta

from storage.db import session_scope
from storage.stats import DEMO, K, OTHER_AGENCY, OTHER_SERVICE, REAL, RequestFacts, publish, published
from tests.clock import START
from tests.opengov.fixtures import INCOME, LAND, PEA, REVENUE, TRANSFER, WEEK_A, WEEK_B, fixture


def _pub(engine, **kw):  # type: ignore[no-untyped-def]
    with session_scope(engine) as s:
        fixture(s)
    with session_scope(engine) as s:
        return published(s, now=START, **kw)


def test_totals_match_the_hand_computed_figures(db_engine) -> None:  # type: ignore[no-untyped-def]
    pub = _pub(db_engine, dataset=REAL)
    t = pub.totals
    assert (t.received, t.open, t.resolved, t.rejected, t.cancelled) == (21, 7, 12, 1, 1)
    assert t.resolved_pct == 57.1
    assert t.median_first_response_hours == 1.5
    assert t.median_close_hours == 27.0
    assert (t.ratings, t.rating_avg, t.reopened, t.oldest_open_days) == (7, 3.71, 1, 15)
    assert pub.unpublished is True


def test_cells_agencies_and_forwarding(db_engine) -> None:  # type: ignore[no-untyped-def]
    pub = _pub(db_engine, dataset=REAL)
    assert [a.agency for a in pub.agencies] == [LAND, REVENUE, OTHER_AGENCY]
    land = pub.agency(LAND)
    assert land is not None and land.figures.received == 11 and land.forwarded is None
    transfer, other = land.services
    assert transfer.service == TRANSFER and other.service == OTHER_SERVICE
    f = transfer.figures
    assert (f.received, f.open, f.resolved, f.resolved_pct) == (6, 1, 5, 83.3)
    assert (f.median_first_response_hours, f.median_close_hours, f.reopened, f.ratings, f.rating_avg) == (7.0, 30.0, 1, 5, 4.2)
    o = other.figures
    assert (o.received, o.open, o.resolved, o.rejected, o.cancelled, o.resolved_pct) == (5, 3, 0, 1, 1, 0.0)
    assert o.median_first_response_hours is None and o.median_close_hours is None  # fewer than 5 values
    revenue = pub.agency(REVENUE)
    assert revenue is not None and revenue.forwarded == 6  # passed 6 requests to กรมที่ดิน
    income = revenue.services[0].figures
    assert (income.service if hasattr(income, "service") else revenue.services[0].service) == INCOME
    assert (income.received, income.median_close_hours, income.ratings, income.rating_avg) == (5, 48.0, 2, None)
    assert pub.agency(PEA) is None  # 4 requests, withheld
    rest = pub.agency(OTHER_AGENCY)
    assert rest is not None and (rest.figures.received, rest.figures.open, rest.figures.resolved, rest.figures.resolved_pct) == (5, 3, 2, 40.0)


def test_weeks_and_cells_are_the_published_grid(db_engine) -> None:  # type: ignore[no-untyped-def]
    pub = _pub(db_engine, dataset=REAL)
    assert [(w.week_start.isoformat(), w.received, w.resolved, w.open) for w in pub.weeks] == [("2026-11-09", 16, 10, 4), ("2026-11-16", 5, 2, 3)]
    assert [(w.week_start.isoformat(), w.received, w.resolved, w.open) for w in pub.weeks_of(LAND)] == [("2026-11-09", 11, 5, 4)]
    assert [(c.week_start.isoformat(), c.agency, c.service, c.figures.received) for c in pub.cells] == [
        ("2026-11-09", LAND, TRANSFER, 6), ("2026-11-09", LAND, OTHER_SERVICE, 5), ("2026-11-09", REVENUE, INCOME, 5),
        ("2026-11-16", OTHER_AGENCY, OTHER_SERVICE, 5)]


def test_since_starts_on_the_monday_of_its_week(db_engine) -> None:  # type: ignore[no-untyped-def]
    pub = _pub(db_engine, dataset=REAL, since=(WEEK_B + timedelta(days=2)).date())
    assert pub.since.isoformat() == "2026-11-16"
    assert pub.totals.received == 5 and [a.agency for a in pub.agencies] == [OTHER_AGENCY]


def test_demo_requests_are_a_separate_data_set(db_engine) -> None:  # type: ignore[no-untyped-def]
    pub = _pub(db_engine, dataset=DEMO)
    assert pub.totals.received == 7 and pub.agency(LAND).services[0].service == TRANSFER  # type: ignore[union-attr]
    assert pub.totals.rating_avg == 5.0


def test_no_figure_can_be_recovered_by_subtraction() -> None:
    """Random data: every published cell has >= K requests and every total is the sum of published cells."""
    rng = random.Random(7)
    agencies = [f"A{i}" for i in range(6)]
    for trial in range(30):
        facts = []
        for i in range(rng.randint(0, 200)):
            created = WEEK_A + timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 23))
            agency = rng.choice(agencies[: rng.randint(1, 6)])
            facts.append(RequestFacts(i, agency, f"S{rng.randint(0, 4)}", rng.choice(["submitted", "completed", "rejected"]), created, None,
                                      rating=rng.choice([None, 1, 5])))
        pub = publish(facts, dataset=REAL, since=None, now=START + timedelta(days=60))
        assert all(c.figures.received >= K for c in pub.cells)
        assert pub.totals.received == sum(c.figures.received for c in pub.cells) == sum(w.received for w in pub.weeks)
        assert pub.totals.resolved == sum(c.figures.resolved for c in pub.cells)
        for a in pub.agencies:
            assert a.figures.received == sum(s.figures.received for s in a.services)
            assert a.figures.received == sum(c.figures.received for c in pub.cells if c.agency == a.agency)
            for s in a.services:
                assert s.figures.rating_avg is None or s.figures.ratings >= K
                assert s.figures.received == sum(c.figures.received for c in pub.cells if (c.agency, c.service) == (a.agency, s.service))
