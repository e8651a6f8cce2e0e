"""Forwarding a request only to a catalog agency, the fallback desk, and the request state machine.

Storage (SQLite and PostgreSQL), the `/forward` command and the Rasa action: an unknown,
partial or misspelled target never moves a request; nothing changes until the official
names exactly one catalog agency.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from actions.request_handling import ActionUpdateRequestStatus
from usecases.admin_commands import CommandContext, handle
from storage.agencies import FALLBACK_DESK, resolve_agency
from storage.models.outbox import Outbox
from storage.models.services import RequestHistory, ServiceRequest
from storage.officials import link_group, register_official, require_official
from storage.requests import (
    TRANSITIONS,
    Citizen,
    InvalidTransition,
    NotYourAgency,
    RequestClosed,
    UnknownAgency,
    UnstaffedAgency,
    agency_requests,
    cancel_request,
    create_request,
    forward_request,
    update_request_status,
)
from storage.services import get_service, load_catalog
from tests.services.conftest import AGENCY_GROUP, ent, run, services_db, tracker  # noqa: F401 (fixture)

LOCAL = "องค์กรปกครองส่วนท้องถิ่น"
DPT = "กรมโยธาธิการและผังเมือง"
DRR = "กรมทางหลวงชนบท"
ALICE = Citizen(key="line:Ualice", channel="line", reply_to="Ualice")


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    load_catalog(session)
    register_official(session, channel="telegram", user_id="901", agency=LOCAL, role="coordinator")
    register_official(session, channel="telegram", user_id="902", agency=DPT)
    register_official(session, channel="telegram", user_id="950", agency=FALLBACK_DESK, role="coordinator")
    link_group(session, channel="telegram", chat_id="-100500", agency=LOCAL)
    link_group(session, channel="telegram", chat_id="-100700", agency=DPT)
    link_group(session, channel="telegram", chat_id="-100900", agency=FALLBACK_DESK)
    session.commit()
    return session


def _file(session) -> ServiceRequest:  # type: ignore[no-untyped-def]
    request = create_request(session, ALICE, get_service(session, "ท่อระบายน้ำอุดตัน"), details="ท่อระบายน้ำหน้าบ้านอุดตัน น้ำท่วมขัง",
                             location={"address": "ซอยสุขใจ 5"})
    session.commit()
    return request


def _snapshot(session, request_id: int) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    session.expire_all()
    request = session.get(ServiceRequest, request_id)
    history = session.scalar(select(func.count()).select_from(RequestHistory).where(RequestHistory.request_id == request_id))
    outbox = session.scalar(select(func.count()).select_from(Outbox))
    return request.agency, request.status, request.touched_at, history, outbox


@pytest.mark.parametrize("target", ["กรม", "กรมโยธาฯ", "กรมทางหลวงชนบธ", "หน่วยงาน", "กรมดับเพลิง", "ยผ.", "", "กรุงเทพ"])
def test_storage_refuses_any_target_that_is_not_a_catalog_name(world, target: str) -> None:
    request = _file(world)
    before = _snapshot(world, request.id)
    with pytest.raises(UnknownAgency) as refused:
        forward_request(world, require_official(world, "telegram", "901"), request.id, target, "งานระบบระบายน้ำใหญ่")
    world.rollback()
    assert _snapshot(world, request.id) == before  # nothing moved, nobody was told
    assert refused.value.name == target


@pytest.mark.parametrize("place_agency", ["กรุงเทพ", "สำนักงานเขตบางกะปิ ", "เขตบางกะปิ", "การไฟฟ้า", ""])
def test_a_new_request_is_filed_only_with_a_catalog_agency(world, place_agency: str) -> None:
    """The place-based agency of a new request passes the catalog too (a typo or a partial name is refused, nothing filed)."""
    service = get_service(world, "ท่อระบายน้ำอุดตัน")
    with pytest.raises(UnknownAgency):
        create_request(world, ALICE, service, details="ท่อตัน", agency=place_agency or " ")
    world.rollback()
    assert world.scalar(select(func.count()).select_from(ServiceRequest)) == 0
    filed = create_request(world, ALICE, service, details="ท่อตัน", agency="กรุงเทพมหานคร")
    assert filed.agency == "กรุงเทพมหานคร"


def test_refusal_carries_the_closest_agencies(world) -> None:
    request = _file(world)
    with pytest.raises(UnknownAgency) as refused:
        forward_request(world, require_official(world, "telegram", "901"), request.id, "กรมโยธาฯ")
    assert refused.value.resolution.agency.name == DPT  # what the caller should offer to confirm


def test_nothing_else_in_storage_can_set_an_unknown_agency(world) -> None:
    request = _file(world)
    request.agency = "กรม"
    with pytest.raises(UnknownAgency):
        world.flush()
    world.rollback()
    assert _snapshot(world, request.id)[0] == LOCAL


def test_forwarding_to_a_staffed_catalog_agency_moves_it(world) -> None:
    request = _file(world)
    update_request_status(world, require_official(world, "telegram", "901"), request.id, "in_progress")
    forward_request(world, require_official(world, "telegram", "901"), request.id, DPT, "งานระบบระบายน้ำใหญ่")
    world.commit()
    assert _snapshot(world, request.id)[:2] == (DPT, "submitted")
    routed = world.scalars(select(Outbox).where(Outbox.kind == "request_routed").order_by(Outbox.id)).all()
    assert routed[-1].recipient == "-100700" and "งานระบบระบายน้ำใหญ่" in routed[-1].payload["text"]
    with pytest.raises(NotYourAgency):  # it left the first agency's queue
        update_request_status(world, require_official(world, "telegram", "901"), request.id, "completed")


def test_an_unstaffed_agency_needs_a_confirmation_and_then_shows_at_the_fallback_desk(world) -> None:
    request = _file(world)
    official = require_official(world, "telegram", "901")
    before = _snapshot(world, request.id)
    with pytest.raises(UnstaffedAgency):
        forward_request(world, official, request.id, DRR, "ถนนในหมู่บ้านชำรุด")
    world.rollback()
    assert _snapshot(world, request.id) == before
    forward_request(world, official, request.id, DRR, "ถนนในหมู่บ้านชำรุด", allow_unstaffed=True)
    world.commit()
    assert _snapshot(world, request.id)[0] == DRR
    routed = world.scalars(select(Outbox).where(Outbox.kind == "request_routed").order_by(Outbox.id)).all()
    assert routed[-1].recipient == "-100900" and DRR in routed[-1].payload["text"]
    desk = require_official(world, "telegram", "950")
    assert request.id in [r.id for r in agency_requests(world, desk)]
    forward_request(world, desk, request.id, DPT, "ส่งให้หน่วยงานที่รับผิดชอบ")  # the desk can pass it on
    world.commit()
    assert _snapshot(world, request.id)[0] == DPT
    assert request.id not in [r.id for r in agency_requests(world, desk)]  # DPT is staffed: off the desk


def test_the_state_machine_refuses_invalid_moves(world) -> None:
    official = require_official(world, "telegram", "901")
    request = _file(world)
    update_request_status(world, official, request.id, "in_progress")
    with pytest.raises(InvalidTransition) as invalid:
        update_request_status(world, official, request.id, "received")  # no going back to "received"
    assert (invalid.value.current, invalid.value.wanted) == ("in_progress", "received")
    update_request_status(world, official, request.id, "need_info", "ขอรูปถ่ายเพิ่ม")
    update_request_status(world, official, request.id, "in_progress")
    update_request_status(world, official, request.id, "completed")
    world.commit()
    with pytest.raises(RequestClosed):
        update_request_status(world, official, request.id, "in_progress")
    with pytest.raises(RequestClosed):
        cancel_request(world, ALICE.key, request.id)
    with pytest.raises(RequestClosed):
        forward_request(world, official, request.id, DPT)
    request.status = "in_progress"  # a write that skips the use-cases is refused at flush
    with pytest.raises(InvalidTransition):
        world.flush()
    world.rollback()
    assert [h.status for h in world.get(ServiceRequest, request.id).history] == [
        "submitted", "in_progress", "need_info", "in_progress", "completed"]


def test_the_transition_table_is_closed_and_complete() -> None:
    from storage.models.services import CLOSED_STATUSES, OPEN_STATUSES, REQUEST_STATUSES

    assert set(TRANSITIONS) == set(REQUEST_STATUSES)
    assert all(TRANSITIONS[s] == frozenset() for s in CLOSED_STATUSES)
    assert all({"submitted", "cancelled", "completed", "rejected"} <= TRANSITIONS[s] for s in OPEN_STATUSES)
    assert all(t in REQUEST_STATUSES for targets in TRANSITIONS.values() for t in targets)


# --- the /forward command ----------------------------------------------------


def _ctx(user: str) -> CommandContext:
    return CommandContext(channel="telegram", chat_id="-100500", chat_type="supergroup", user_id=user, display_name="")


def test_the_forward_command_never_guesses(db_engine) -> None:
    from storage.db import session_scope

    with session_scope(db_engine) as s:
        load_catalog(s)
        register_official(s, channel="telegram", user_id="901", agency=LOCAL, role="coordinator")
        register_official(s, channel="telegram", user_id="950", agency=FALLBACK_DESK)
        link_group(s, channel="telegram", chat_id="-100500", agency=LOCAL)
        link_group(s, channel="telegram", chat_id="-100700", agency=DPT)
        link_group(s, channel="telegram", chat_id="-100900", agency=FALLBACK_DESK)
        code = _file(s).code
    with session_scope(db_engine) as s:
        reply = handle(s, _ctx("901"), f"/forward {code} กรม เป็นงานระบบระบายน้ำใหญ่")
        assert "ยังไม่ได้ระบุว่าเป็นหน่วยงานใด" in reply and "ยังอยู่ที่หน่วยงานเดิม" in reply
        reply = handle(s, _ctx("901"), f"/forward {code} กรมดับเพลิง ไฟไหม้")
        assert "ไม่พบ" in reply and "ยังอยู่ที่หน่วยงานเดิม" in reply
        reply = handle(s, _ctx("901"), f"/forward {code} การประปา น้ำไม่ไหล")
        assert "หลายหน่วยงาน" in reply and "การประปานครหลวง" in reply and "การประปาส่วนภูมิภาค" in reply
        assert f"/forward {code} #" in reply and reply.rstrip().endswith("น้ำไม่ไหล")  # the reason is kept verbatim
        reply = handle(s, _ctx("901"), f"/forward {code} กรมพัฒนาธุรกิจ จดทะเบียน")
        assert reply.startswith("หมายถึง กรมพัฒนาธุรกิจการค้า ใช่ไหมครับ")
        assert s.scalars(select(ServiceRequest)).one().agency == LOCAL
    with session_scope(db_engine) as s:
        reply = handle(s, _ctx("901"), f"/forward {code} กรมทางหลวงชนบท ถนนชำรุด")  # nobody staffs it yet
        assert "ยังไม่มีเจ้าหน้าที่" in reply and FALLBACK_DESK in reply and "ยืนยัน ถนนชำรุด" in reply
        assert s.scalars(select(ServiceRequest)).one().agency == LOCAL
        command = reply.splitlines()[-1]
    with session_scope(db_engine) as s:
        assert handle(s, _ctx("901"), command) == f"ส่งต่อ {code} ให้ {DRR} แล้วครับ ประวัติคำร้องยังอยู่ครบ"
        request = s.scalars(select(ServiceRequest)).one()
        assert request.agency == DRR and request.history[-1].note == f"จาก {LOCAL}: ถนนชำรุด"
    with session_scope(db_engine) as s:
        reply = handle(s, _ctx("950"), f"/forward {code} กรมโยธาฯ งานระบบระบายน้ำใหญ่")  # the fallback desk passes it on
        assert reply == f"ส่งต่อ {code} ให้ {DPT} แล้วครับ ประวัติคำร้องยังอยู่ครบ"


# --- the action (officials' sentences) ---------------------------------------


def _forward_sentence(text: str, code: str, target: str) -> object:
    return tracker(text, "update_request_status", user_id="901", channel="telegram", chat_type="supergroup", chat_id=AGENCY_GROUP,
                   entities=[ent(text, code, "request_id"), ent(text, target, "agency")])


def _request(services_db) -> ServiceRequest:  # type: ignore[no-untyped-def]
    from storage.db import session_scope

    with session_scope(services_db) as s:
        return _file(s).code


def test_the_action_asks_instead_of_forwarding_to_a_partial_name(services_db) -> None:
    from storage.db import session_scope

    code = _request(services_db)
    messages, _ = run(ActionUpdateRequestStatus(), _forward_sentence(f"ส่งต่อ {code} ไปกรม ครับ เป็นงานระบบระบายน้ำใหญ่", code, "กรม"))
    assert "ยังไม่ได้ระบุว่าเป็นหน่วยงานใด" in messages[0]["text"] and not messages[0]["buttons"]
    text = f"ส่งต่อ {code} ให้การไฟฟ้า ไฟดับทั้งซอย"
    messages, _ = run(ActionUpdateRequestStatus(), _forward_sentence(text, code, "การไฟฟ้า"))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert len(payloads) == 3 and all(f'"request_id": "{code}"' in p and '"agency": "#' in p for p in payloads)
    with session_scope(services_db) as s:
        assert s.scalars(select(ServiceRequest)).one().agency == LOCAL
        dpt = resolve_agency(s, DPT).agency
    # a button carries the request and the agency id: pressing it forwards (กรมโยธาฯ is staffed in this test)
    with session_scope(services_db) as s:
        register_official(s, channel="telegram", user_id="990", agency=DPT)
    payload = '/update_request_status{"request_id": "%s", "agency": "#%d"}' % (code, dpt.agency_id)
    messages, _ = run(ActionUpdateRequestStatus(), tracker(payload, "update_request_status", user_id="901", channel="telegram",
                                                           chat_type="supergroup", chat_id=AGENCY_GROUP,
                                                           entities=[{"entity": "request_id", "value": code},
                                                                     {"entity": "agency", "value": f"#{dpt.agency_id}"}]))
    assert messages[0]["response"] == "utter_request_forwarded" and messages[0]["agency"] == DPT


def test_the_action_warns_before_forwarding_to_an_unstaffed_agency(services_db) -> None:
    from storage.db import session_scope

    code = _request(services_db)
    text = f"ส่งต่อ {code} ให้กรมทางหลวงชนบท ถนนชำรุด"
    messages, _ = run(ActionUpdateRequestStatus(), _forward_sentence(text, code, "กรมทางหลวงชนบท"))
    assert "ยังไม่มีเจ้าหน้าที่" in messages[0]["text"] and FALLBACK_DESK in messages[0]["text"]
    [confirm] = messages[0]["buttons"]
    assert '"agency": "#' in confirm["payload"] and confirm["payload"].endswith('!"}')
    with session_scope(services_db) as s:
        assert s.scalars(select(ServiceRequest)).one().agency == LOCAL
    agency = confirm["payload"].split('"agency": "')[1].rstrip('"}')
    messages, _ = run(ActionUpdateRequestStatus(), tracker(confirm["payload"], "update_request_status", user_id="901", channel="telegram",
                                                           chat_type="supergroup", chat_id=AGENCY_GROUP,
                                                           entities=[{"entity": "request_id", "value": code},
                                                                     {"entity": "agency", "value": agency}]))
    assert messages[0]["response"] == "utter_request_forwarded" and messages[0]["agency"] == DRR


def test_the_fallback_desk_is_the_handoff_default() -> None:
    from storage.handoff import DEFAULT_AGENCY

    assert FALLBACK_DESK == DEFAULT_AGENCY


def test_a_handoff_about_a_request_at_an_unstaffed_agency_reaches_the_fallback_desk(world) -> None:
    from storage.handoff import reply_in_handoff, start_handoff

    request = _file(world)
    forward_request(world, require_official(world, "telegram", "901"), request.id, DRR, "ถนนชำรุด", allow_unstaffed=True)
    handoff, told = start_handoff(world, ALICE, "line:Ualice", request=request, reason="ขอคุยกับเจ้าหน้าที่")
    world.commit()
    assert handoff.agency == FALLBACK_DESK and told == 1  # the desk's group, not nobody
    reply_in_handoff(world, require_official(world, "telegram", "950"), handoff.id, "รับเรื่องไว้แล้วครับ กำลังประสานกรมทางหลวงชนบท", key="e1")
    staffed, _ = start_handoff(world, Citizen(key="line:Ubob", channel="line", reply_to="Ubob"), "line:Ubob", agency=DPT)
    assert staffed.agency == DPT  # a staffed agency keeps its own handoffs


def test_naming_ones_own_agency_by_an_alias_changes_nothing(services_db) -> None:
    from storage.db import session_scope

    code = _request(services_db)
    text = f"ส่งต่อ {code} ให้ อบต. ครับ"
    messages, _ = run(ActionUpdateRequestStatus(), _forward_sentence(text, code, "อบต."))
    assert messages[0]["text"] == f"{code} อยู่กับ {LOCAL} อยู่แล้วครับ"
    with session_scope(services_db) as s:
        assert [h.action for h in s.scalars(select(ServiceRequest)).one().history] == ["created"]


def test_admins_register_and_link_only_catalog_agencies(db_engine) -> None:
    from storage.db import session_scope
    from storage.officials import find_official, group_link

    with session_scope(db_engine) as s:
        register_official(s, channel="telegram", user_id="1", agency=FALLBACK_DESK, role="global_admin")  # cross-agency set-up
    with session_scope(db_engine) as s:
        ctx = CommandContext(channel="telegram", chat_id="-500", chat_type="group", user_id="1", display_name="")
        reply = handle(s, ctx, "/linkgroup กรม")
        assert "ไม่พบหน่วยงาน" in reply and group_link(s, "telegram", "-500") is None
        reply = handle(s, ctx, "/linkgroup กรมทางหลวงชนบธ")  # a typo is asked, not linked
        assert "/linkgroup กรมทางหลวงชนบท" in reply and group_link(s, "telegram", "-500") is None
        assert "เชื่อมกลุ่มนี้กับ กรมทางหลวงชนบท" in handle(s, ctx, "/linkgroup ทช.")
        assert group_link(s, "telegram", "-500").agency == DRR  # stored under the official name
        reply = handle(s, ctx, "/register 7 การประปา coordinator")
        assert "/register 7 การประปานครหลวง coordinator" in reply and find_official(s, "telegram", "7") is None
        handle(s, ctx, "/register 7 กปน. coordinator")
        assert find_official(s, "telegram", "7").agency == "การประปานครหลวง"


def test_a_new_request_for_an_agency_without_a_group_is_routed_to_the_fallback_desk(world) -> None:
    request = create_request(world, ALICE, get_service(world, "หนังสือเดินทาง"), details="หนังสือเดินทางหาย ต้องการทำใหม่")
    world.commit()
    assert request.agency == "กรมการกงสุล"
    [routed] = world.scalars(select(Outbox).where(Outbox.kind == "request_routed")).all()
    assert routed.recipient == "-100900" and "กรมการกงสุล" in routed.payload["text"]
    assert request.id in [r.id for r in agency_requests(world, require_official(world, "telegram", "950"))]


def test_the_reported_sentence_forwards_to_the_real_department(services_db) -> None:
    """Issue #19: "ส่งต่อ REQ-000002 ไปกรมโยธาฯ ครับ ..." went to an agency named "กรม"."""
    from storage.db import session_scope

    code = _request(services_db)
    with session_scope(services_db) as s:
        register_official(s, channel="telegram", user_id="990", agency=DPT)
    text = f"ส่งต่อ {code} ไปกรมโยธาฯ ครับ เป็นงานระบบระบายน้ำใหญ่"
    # what the NLU picked then: "กรม", a piece of the word the official typed; the whole word is the target
    messages, _ = run(ActionUpdateRequestStatus(), _forward_sentence(text, code, "กรม"))
    assert messages[0]["response"] == "utter_request_forwarded" and messages[0]["agency"] == DPT
    with session_scope(services_db) as s:
        request = s.scalars(select(ServiceRequest)).one()
        assert request.agency == DPT and request.history[-1].action == "forwarded"
        assert request.history[-1].note.endswith("เป็นงานระบบระบายน้ำใหญ่")  # the reason whole, "เป็น" included
        notice = s.scalars(select(Outbox).where(Outbox.kind == "request_status")).all()[-1]
        assert DPT in notice.payload["text"]  # the citizen is told the real department
    messages, _ = run(ActionUpdateRequestStatus(), _forward_sentence(text, code, "กรมโยธาฯ"))
    assert messages[0]["response"] == "utter_request_not_for_you"  # a second time: it left this agency


def test_a_request_stranded_at_a_non_catalog_agency_is_recovered_by_the_fallback_desk(world) -> None:
    """Rows written before this check (REQ-000002 went to "กรม") show at the desk, which forwards them on."""
    from sqlalchemy import update

    request = _file(world)
    world.execute(update(ServiceRequest).where(ServiceRequest.id == request.id).values(agency="กรม"))  # the old bug's row
    world.commit()
    desk = require_official(world, "telegram", "950")
    assert request.id in [r.id for r in agency_requests(world, desk)]
    forward_request(world, desk, request.id, DPT, "ส่งต่อให้หน่วยงานที่ถูกต้อง")
    world.commit()
    world.expire_all()
    assert world.get(ServiceRequest, request.id).agency == DPT
    assert world.get(ServiceRequest, request.id).history[-1].note == "จาก กรม: ส่งต่อให้หน่วยงานที่ถูกต้อง"
