"""Rate limits for actions with a side effect people could repeat: filing requests, asking for an official.

The counters are shared through the database (storage/ratelimits.py), so the limits hold with several
action servers; the limits come from the `RATE_LIMITS` setting. Each limited action calls
`refused(...)` first and, when it says so, has already answered the person politely in Thai.
"""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions import db
from common import clock
from common.settings import get_settings
from storage.ratelimits import hit_all, parse_limits

TOO_MANY = {
    "requests": ("ขออภัยครับ ช่วงนี้มีการยื่นคำร้องจากบัญชีนี้หลายรายการแล้ว ระบบจึงยังไม่รับคำร้องเพิ่มในตอนนี้ "
                 "รบกวนลองใหม่ภายหลัง หรือพิมพ์ \"ติดตามคำร้อง\" เพื่อดูเรื่องที่ยื่นไว้ได้ครับ"),
    "handoffs": ("ขออภัยครับ ช่วงนี้มีการขอคุยกับเจ้าหน้าที่จากบัญชีนี้หลายครั้งแล้ว ระบบจึงยังไม่ส่งเรื่องถึงเจ้าหน้าที่เพิ่มในตอนนี้ "
                 "เจ้าหน้าที่ยังเห็นเรื่องก่อนหน้าของคุณอยู่ รบกวนรอสักครู่แล้วลองใหม่นะครับ"),
}


def refused(dispatcher: CollectingDispatcher, what: str, person: str, group: str | None = None) -> bool:
    """Count one `what` ("requests" or "handoffs") for `person` (and their `group` chat); True, having
    answered, when a limit is reached."""
    limits = parse_limits(get_settings().rate_limits)
    checks = [(limits.get(what), person)]
    if group:
        checks.append((limits.get(f"group_{what}"), group))
    if not any(limit for limit, _ in checks):
        return False
    with db.session() as s:
        verdict = hit_all(s, checks, clock.now())
    if verdict.allowed:
        return False
    dispatcher.utter_message(text=TOO_MANY[what])
    return True
