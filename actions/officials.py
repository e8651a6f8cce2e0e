"""Officials' actions in Telegram groups: tasks and reminders.

Thin: identity from message metadata, parsing helpers in `actions.official_parsing`,
rules and data in `storage.tasks` / `storage.reminders`; wording in
`bot/domain/officials.yml`. A citizen or an unregistered person gets a polite
refusal and nothing changes.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.idempotency import once_per_message
from actions.identity import Speaker, speaker_of
from actions.official_parsing import (
    asks_for_request_list,
    asks_for_task_list,
    blocked_reason,
    entity_values,
    id_kinds,
    is_payload,
    is_task_cancel,
    list_scope,
    list_status,
    parse_deadline,
    percent_in,
    starts_task_creation,
    reminder_subject,
    reminder_target,
    reminder_words,
    status_from,
    task_title_from,
)
from actions.request_handling import ActionUpdateRequestStatus
from common.ids import COMMAND_TEXT, format_task_id, parse_task_id
from common.thai_datetime import format_thai, parse_when
from storage.models.officials import Official
from storage.agencies import resolve_agency
from storage.officials import Actor, PermissionDenied, find_official, group_link, require_official, seen_in_chat
from storage.reminders import create_reminder
from storage.models.officials import Official
from storage.outbox import cancel_pending
from common.wording.tasks import STATUS_THAI
from storage.tasks import (
    FOLLOW_UP_KINDS,
    TaskFilter,
    TaskNotFound,
    assign_task,
    create_task,
    get_task,
    list_tasks,
    set_deadline,
    update_status,
)

Events = list[dict[str, Any]]


def _actor(session, speaker: Speaker, dispatcher: CollectingDispatcher, minimum: str = "member") -> Actor | None:  # type: ignore[no-untyped-def]
    try:
        return require_official(session, speaker.channel, speaker.user_id, minimum)
    except PermissionDenied as denied:
        dispatcher.utter_message(response="utter_officials_only" if denied.reason == "not_official" else "utter_role_too_low")
        return None


def _thai_deadline(task) -> str:  # type: ignore[no-untyped-def]
    if task.deadline is None:
        return "ไม่ได้กำหนด"

    return format_thai(task.deadline, with_time=task.deadline_has_time)


def _task_line(task) -> str:  # type: ignore[no-untyped-def]
    status = STATUS_THAI[task.status]
    if task.status == "in_progress" and task.percent is not None:
        status += f" {task.percent}%"
    if task.status == "blocked" and task.blocked_reason:
        status += f" ({task.blocked_reason})"
    people = [a.official.display_name or a.official.user_id for a in task.assignees if a.official is not None]
    agencies = sorted({a.agency for a in task.assignees if a.agency and a.official is None})
    who = ", ".join(people + agencies) or task.owner_agency or "-"
    return f"{task.code} {task.title} | {status} | กำหนด {_thai_deadline(task)} | {who}"


def _said(tracker: Tracker) -> tuple[str, list[dict[str, Any]], bool]:
    """(what the official said, the entities in it, whether it came as a slash command).

    "/newtask เตรียมข้อมูลผู้เสียภาษี" reaches Rasa as `/create_task` (never the classifier) with the words
    after the command in the metadata (connectors/payloads.py rasa_message): those words are what the
    official said, verbatim, and nothing was extracted from them yet."""
    latest = tracker.latest_message or {}
    words = (latest.get("metadata") or {}).get(COMMAND_TEXT)
    if isinstance(words, str):
        return words, [], True
    return latest.get("text") or "", latest.get("entities") or [], False


def _reroute(dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any], text: str) -> Events | None:
    """Route by what the text holds when the classifier confused the intents: a request ID alone is
    a request update, "ยกเลิกงาน T-2" cancels a task. None: carry on with this action."""
    if is_payload(text):
        return None
    if id_kinds(text) == {"request"} and not starts_task_creation(text):  # "สร้างงาน ติดตาม REQ-000123" stays a task
        return ActionUpdateRequestStatus().run(dispatcher, tracker, domain)
    if is_task_cancel(text):
        return ActionCancelTask().run(dispatcher, tracker, domain)
    if asks_for_task_list(text):  # "งานของฉันมีอะไรบ้าง" classified as a task update or creation
        return ActionListTasks().run(dispatcher, tracker, domain)
    return None


_PERSON_PREFIX = r"(?:คุณ|พี่|น้อง|ผอ\.?|หัวหน้า)?"
# "ให้" that starts a phrase ("... ให้วิภา", "มอบหมายให้วิภา"), not one inside the title
# ("ส่งเอกสารให้ สตง." is what the task is about, not who does it)
_GIVE = r"(?:มอบหมายให้|มอบให้|(?:(?<=\s)|^)ให้)"


def _officials_of(session, channel: str, text: str) -> list[Official]:  # type: ignore[no-untyped-def]
    """Active officials of the channel whose display name or agency occurs in `text` (the database
    does the substring test, so this stays one small query however many officials there are)."""
    from sqlalchemy import and_, literal, or_, select

    haystack = literal(text)
    named = or_(and_(Official.display_name != "", haystack.like(literal("%") + Official.display_name + literal("%"))),
                haystack.like(literal("%@") + Official.user_id + literal("%")),
                haystack.like(literal("%") + Official.agency + literal("%")))
    return list(session.scalars(select(Official).where(Official.channel == channel, Official.active.is_(True), named)))


def _assignees_in(session, speaker: Speaker, text: str, entities: list[dict[str, Any]], actor_agency: str, *,  # type: ignore[no-untyped-def]
                  command: bool = False):
    """Who a creation or assignment sentence gives the work to: ("ให้วิภา", "@วิภา", "ให้กรมสรรพากร").

    Returns (official or None, agencies, spans of those phrases). A person is a registered
    official of this channel, matched by display name; an agency is the classifier's entity or
    the agency of a registered official named in full after "ให้". A slash command's words were
    not read by the classifier (`command`): there the word after "ให้" counts when it is exactly
    a catalog agency's name or alias.
    """
    person, spans = None, []
    named: list[tuple[Official, re.Match[str]]] = []
    for official in _officials_of(session, speaker.channel, text):
        m = None
        if official.display_name:
            m = re.search(rf"(?:{_GIVE}\s*{_PERSON_PREFIX}\s*|@){re.escape(official.display_name)}(?![ก-ฮ]{{2}})", text)
        if m is None:
            m = re.search(rf"@{re.escape(official.user_id)}\b", text)
        if m is not None:
            named.append((official, m))
    if named:
        # the longest name said ("วิภาวดี" over "วิภา"); display names are not unique: among officials
        # sharing it, one who has written in this group, then one of the speaker's agency
        longest = max(len(o.display_name or "") for o, _ in named)
        named = [(o, m) for o, m in named if len(o.display_name or "") == longest]
        if len(named) > 1:
            seen = seen_in_chat(session, speaker.channel, speaker.chat_id, speaker.chat_type, [o.user_id for o, _ in named])
            named.sort(key=lambda om: (om[0].user_id not in seen, om[0].agency != actor_agency, om[0].id))
        person = named[0][0]
        spans.append(named[0][1].span())
    agencies: list[str] = []
    for entity in entities:
        if entity.get("entity") == "agency" and entity.get("value") and "start" in entity:
            start, end = int(entity["start"]), int(entity["end"])
            give = re.search(rf"{_GIVE}\s*$", text[:start])
            if give is not None and str(entity["value"]) != actor_agency and str(entity["value"]) not in agencies:
                agencies.append(str(entity["value"]))
                spans.append((give.start(), end))
    if not agencies:
        known = sorted({o.agency for o in _officials_of(session, speaker.channel, text)}, key=len, reverse=True)
        for agency in known:
            m = re.search(rf"{_GIVE}\s*{re.escape(agency)}", text)
            if m is not None and agency != actor_agency:
                agencies.append(agency)
                spans.append(m.span())
                break
    if not agencies and command:
        for m in re.finditer(rf"{_GIVE}\s*(\S+)", text):
            word = re.sub(r"(?:ครับ|ค่ะ|คะ|นะ|จ้า|ด้วย)+$", "", m.group(1))
            found = resolve_agency(session, word) if word else None
            if found is not None and found.is_exact and found.how in ("name", "alias") and found.agency.name != actor_agency:
                agencies.append(found.agency.name)
                spans.append((m.start(), m.start(1) + len(word)))
                break
    return person, agencies, spans


class ActionCreateTask(Action):
    def name(self) -> str:
        return "action_create_task"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        text, entities, command = _said(tracker)
        rerouted = None if command else _reroute(dispatcher, tracker, domain, text)  # /newtask is a task, whatever it names
        if rerouted is not None:
            return rerouted
        speaker = speaker_of(tracker)
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            deadline = parse_deadline(text, entities)
            person, agencies, spans = _assignees_in(s, speaker, text, entities, actor.agency, command=command)
            if deadline is not None:
                spans.append(deadline.span)
            title = task_title_from(text, entities, spans, command=command)
            if not title:
                dispatcher.utter_message(response="utter_task_needs_title")
                return []
            confirm = deadline is not None and deadline.needs_confirmation
            link = group_link(s, speaker.channel, speaker.chat_id) if speaker.in_group else None
            task = create_task(
                s, actor, title=title, channel=speaker.channel, chat_id=speaker.chat_id,
                owner_agency=actor.agency, project_id=link.project_id if link else None,
                deadline=deadline.datetime if deadline and not confirm else None,
                deadline_has_time=deadline.has_time if deadline else True,
                assignee_agencies=agencies,
            )
            if person is not None:
                task = assign_task(s, actor, task.id, official=person)
            dispatcher.utter_message(response="utter_task_created", task=_task_line(task))
            if confirm:
                _ask_deadline_confirmation(dispatcher, task.code, deadline)
        return []


def _ask_deadline_confirmation(dispatcher: CollectingDispatcher, code: str, deadline) -> None:  # type: ignore[no-untyped-def]
    when = format_thai(deadline.datetime, with_time=deadline.has_time)
    payload = '/update_task_status{"task_id": "%s", "time": "%s"}' % (code, deadline.datetime.isoformat())
    dispatcher.utter_message(
        response="utter_confirm_deadline",
        task_id=code,
        when=when,
        reason=deadline.reason or "ขอยืนยันก่อนบันทึก",
        buttons=[{"title": f"ยืนยัน {when}", "payload": payload},
                 {"title": "แก้ไข", "payload": '/update_task_status{"task_id": "%s"}' % code}],
    )


class ActionAssignTask(Action):
    def name(self) -> str:
        return "action_assign_task"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        text = tracker.latest_message.get("text") or ""
        entities = tracker.latest_message.get("entities") or []
        task_id = _task_id(text, entities)
        agencies = entity_values(entities, "agency")
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            if task_id is None:
                dispatcher.utter_message(response="utter_task_needs_id")
                return []
            person, named_agencies, _ = _assignees_in(s, speaker, text, entities, "")
            agencies = [a for a in dict.fromkeys(agencies + named_agencies)]
            if not agencies and person is None:
                dispatcher.utter_message(response="utter_assign_needs_target", task_id=format_task_id(task_id))
                return []
            try:
                task = None
                for agency in agencies:
                    task = assign_task(s, actor, task_id, agency=agency)
                if person is not None:
                    task = assign_task(s, actor, task_id, official=person)
            except TaskNotFound:
                dispatcher.utter_message(response="utter_task_not_found", task_id=format_task_id(task_id))
                return []
            except PermissionDenied:
                dispatcher.utter_message(response="utter_task_not_yours", task_id=format_task_id(task_id))
                return []
            dispatcher.utter_message(response="utter_task_assigned", task=_task_line(task))
        return []


def _task_id(text: str, entities: list[dict[str, Any]]) -> int | None:
    for value in entity_values(entities, "task_id"):
        parsed = parse_task_id(value)
        if parsed is not None:
            return parsed
    match = re.search(r"(?i)(?<![a-z])t\s*-?\s*[0-9๐-๙]+", text)
    return parse_task_id(match.group(0)) if match else None


class ActionUpdateTaskStatus(Action):
    def name(self) -> str:
        return "action_update_task_status"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        text = tracker.latest_message.get("text") or ""
        rerouted = _reroute(dispatcher, tracker, domain, text)
        if rerouted is not None:
            return rerouted
        speaker = speaker_of(tracker)
        entities = tracker.latest_message.get("entities") or []
        task_id = _task_id(text, entities)
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            if task_id is None:
                dispatcher.utter_message(response="utter_task_needs_id")
                return []
            code = format_task_id(task_id)
            try:
                pressed = entity_values(entities, "task_status") if is_payload(text) else []
                if pressed and pressed[0] in (CANCEL_CONFIRMED, CANCEL_KEPT):  # buttons under "ยกเลิกงาน T-2"
                    if pressed[0] == CANCEL_KEPT:
                        dispatcher.utter_message(response="utter_task_cancel_kept", task_id=code)
                        return []
                    title = cancel_task(s, actor, task_id)
                    dispatcher.utter_message(response="utter_task_cancelled", task_id=code, title=title)
                    return []
                status = (pressed[0] if pressed and pressed[0] in STATUS_THAI else None) if is_payload(text) else status_from(text, entities)
                deadline = parse_deadline(text, entities) if status is None else None
                if status is None and deadline is not None:
                    if deadline.needs_confirmation:
                        get_task(s, task_id)  # unknown task: say so before asking about its date
                        _ask_deadline_confirmation(dispatcher, code, deadline)
                        return []
                    task = set_deadline(s, actor, task_id, deadline.datetime, deadline.has_time)
                    dispatcher.utter_message(response="utter_task_deadline_set", task=_task_line(task))
                    return []
                if status is None and is_payload(text):  # "แก้ไข" under a deadline question
                    dispatcher.utter_message(response="utter_task_deadline_retype", task_id=code)
                    return []
                if status is None:
                    if entity_values(entities, "time"):
                        dispatcher.utter_message(response="utter_time_not_understood")
                    else:
                        dispatcher.utter_message(response="utter_task_needs_status", task_id=code)
                    return []
                reason = blocked_reason(text) if status == "blocked" else None
                task = update_status(s, actor, task_id, status, percent=percent_in(text), reason=reason)
            except TaskNotFound:
                dispatcher.utter_message(response="utter_task_not_found", task_id=code)
                return []
            except PermissionDenied:
                dispatcher.utter_message(response="utter_task_not_yours", task_id=code)
                return []
            dispatcher.utter_message(response="utter_task_updated", task=_task_line(task))
        return []


def cancel_task(session, actor: Actor, task_id: int) -> str:  # type: ignore[no-untyped-def]
    """Remove a task and its pending follow-ups; returns its title. Only its creator, an official of
    the owning agency or a coordinator may. (A storage use-case; kept here while storage/tasks.py
    has no cancelled state.)"""
    task = get_task(session, task_id)
    if not may_cancel(task, actor):
        raise PermissionDenied("not_involved")
    cancel_pending(session, cause_type="task", cause_id=str(task.id), kinds=FOLLOW_UP_KINDS)
    title = task.title
    session.delete(task)
    session.flush()
    return title


CANCEL_CONFIRMED, CANCEL_KEPT = "cancelled", "keep"


def may_cancel(task, actor: Actor) -> bool:  # type: ignore[no-untyped-def]
    return actor.at_least("coordinator") or task.created_by == actor.id or task.owner_agency == actor.agency


class ActionCancelTask(Action):
    """"ยกเลิกงาน T-2", "ลบงาน T-2": reached from any task intent (there is no intent of its own).

    Removing a task cannot be undone, so the bot names the task and asks; the ยืนยัน button's
    payload carries the task ID and the decision, and only that removes it."""

    def name(self) -> str:
        return "action_cancel_task"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        text = tracker.latest_message.get("text") or ""
        task_id = _task_id(text, tracker.latest_message.get("entities") or [])
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            if task_id is None:
                dispatcher.utter_message(response="utter_task_needs_id")
                return []
            code = format_task_id(task_id)
            try:
                task = get_task(s, task_id)
            except TaskNotFound:
                dispatcher.utter_message(response="utter_task_not_found", task_id=code)
                return []
            if not may_cancel(task, actor):
                dispatcher.utter_message(response="utter_task_cancel_not_yours", task_id=code)
                return []
            payload = '/update_task_status{"task_id": "%s", "task_status": "%s"}'
            dispatcher.utter_message(
                response="utter_confirm_cancel_task", task=_task_line(task), task_id=code,
                buttons=[{"title": f"ยืนยันยกเลิก {code}", "payload": payload % (code, CANCEL_CONFIRMED)},
                         {"title": "ไม่ยกเลิก", "payload": payload % (code, CANCEL_KEPT)}],
            )
        return []


def _aware(moment):  # type: ignore[no-untyped-def]
    from datetime import UTC

    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def _my_tasks(session, actor: Actor) -> list:  # type: ignore[no-untyped-def]
    """Open tasks the speaker created or was given, as a person or through their agency."""
    mine = list_tasks(session, actor, TaskFilter("mine"), limit=200)
    agency = [t for t in list_tasks(session, actor, TaskFilter("open", actor.agency), limit=200)
              if any(a.agency == actor.agency and a.official_id is None for a in t.assignees)]
    seen: dict[int, Any] = {t.id: t for t in mine + agency}
    return sorted(seen.values(), key=lambda t: (t.deadline is None, _aware(t.deadline) if t.deadline else 0, t.id))


def _person_named(session, speaker: Speaker, text: str):  # type: ignore[no-untyped-def]
    for official in sorted(_officials_of(session, speaker.channel, text), key=lambda o: -len(o.display_name or "")):
        if official.display_name and re.search(rf"(?:ของ|ให้|@)\s*{_PERSON_PREFIX}\s*{re.escape(official.display_name)}", text):
            return official
    return None


class ActionListTasks(Action):
    def name(self) -> str:
        return "action_list_tasks"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        text, entities, command = _said(tracker)  # "/tasks ของฉัน": the words after /tasks
        if not command and asks_for_request_list(text) and "งาน" not in text:  # "วันนี้มีคำร้องใหม่เข้ามามั้ย"
            return ActionUpdateRequestStatus().run(dispatcher, tracker, domain)
        speaker = speaker_of(tracker)
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            scope = list_scope(text)
            status = list_status(text)
            agencies = entity_values(entities, "agency") or sorted(
                {o.agency for o in _officials_of(s, speaker.channel, text) if re.search(rf"ของ\s*{re.escape(o.agency)}", text)}, key=len)[-1:]
            person = _person_named(s, speaker, text)
            due = parse_when(text)
            link = group_link(s, speaker.channel, speaker.chat_id) if speaker.in_group else None
            narrowed = scope == "mine" or agencies or person is not None
            project_id = link.project_id if link and not narrowed else None
            if scope == "mine":
                tasks = _my_tasks(s, actor)
            else:
                wide = "all" if status == "done" and scope == "open" else scope
                tasks = list_tasks(s, actor, TaskFilter(wide, agencies[0] if agencies else None, project_id), limit=200)
            title = {"overdue": "งานที่เลยกำหนด", "mine": "งานของคุณ", "all": "งานทั้งหมด"}.get(scope, "งานที่ยังไม่เสร็จ")
            if status is not None:
                tasks = [t for t in tasks if t.status == status]
                title = f"งานที่{STATUS_THAI[status]}" + (" ของคุณ" if scope == "mine" else "")
            if person is not None:
                tasks = [t for t in tasks if any(a.official_id == person.id for a in t.assignees)]
                title += f" ของ{person.display_name}"
            if agencies:
                title += f" ของ{agencies[0]}"
            if due is not None:
                limit = due.datetime if due.has_time else due.datetime.replace(hour=23, minute=59, second=59)
                tasks = [t for t in tasks if t.deadline is not None and _aware(t.deadline) <= limit]
                title += f" ที่ครบกำหนดภายใน{format_thai(due.datetime, with_time=due.has_time)}"
            if not tasks:
                dispatcher.utter_message(response="utter_no_tasks")
                return []
            shown = tasks[:20]
            lines = "\n".join(f"• {_task_line(t)}" for t in shown)
            if len(tasks) > len(shown):
                lines += f"\nและอีก {len(tasks) - len(shown)} งาน"
            dispatcher.utter_message(response="utter_task_list", title=title, count=len(tasks), tasks=lines)
        return []


# A confirmation button carries the reminder's words: at most this many characters (with the time and the
# JSON around them it stays under LINE's 300-character postback data; Telegram stores long payloads by key).
MAX_BUTTON_WORDS = 150
_NOT_IN_PAYLOAD = re.compile(r"[\x00-\x1f\x7f-\x9f{}]")


def reminder_payload(when: datetime, words: str) -> str:
    """The "ยืนยัน" button under a reminder's date question: the confirmed time and the reminder's own words
    (`task_title`), so the tap sets exactly that reminder, however many turns came in between (the actions see
    a window of the conversation, engine/tracker_store.py) and whoever else spoke."""
    entities = {"time": when.isoformat()}
    kept = " ".join(_NOT_IN_PAYLOAD.sub(" ", words).split())[:MAX_BUTTON_WORDS].strip()
    if kept:
        entities["task_title"] = kept
    return "/set_reminder" + json.dumps(entities, ensure_ascii=False)


def _previous_text(tracker: Tracker, user_id: str) -> str:
    """The speaker's last typed message before the current one, for a "ยืนยัน" button sent before buttons
    carried the reminder's words (`reminder_payload`); only what the tracker's window still holds."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    for event in reversed(users[:-1]):
        text = event.get("text") or ""
        sender = (event.get("metadata") or {}).get("user_id")
        if text and not is_payload(text) and (sender is None or str(sender) == user_id):
            return text
    return ""


class ActionSetReminder(Action):
    def name(self) -> str:
        return "action_set_reminder"

    @once_per_message
    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        text, entities, command = _said(tracker)  # "/remind พรุ่งนี้ 9 โมง ประชุม": the words after /remind
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            when = parse_deadline(text, entities)
            source, span = text, when.span if when else None
            if not command and is_payload(text):  # "ยืนยัน" under a date question: the reminder it asked about
                carried = entity_values(entities, "task_title")
                if carried:  # the button carries the reminder's words (time taken out)
                    source, span = carried[0], None
                else:  # a button from before they did: the speaker's message, if still in the window
                    source = _previous_text(tracker, speaker.user_id)
                    original = parse_deadline(source, []) if source else None
                    span = original.span if original else None
            if when is None:
                dispatcher.utter_message(response="utter_reminder_needs_time")
                return []
            due = when.datetime if when.has_time else when.datetime.replace(hour=9, minute=0)  # a day alone: 9 a.m.
            if when.needs_confirmation:  # the button carries the moment it will set ("ต้นเดือนหน้า": the 1st, 9 a.m.)
                said = format_thai(when.datetime, with_time=when.has_time)
                dispatcher.utter_message(
                    response="utter_reminder_confirm_time", when=said, reason=when.reason,
                    buttons=[{"title": f"ยืนยัน {said}", "payload": reminder_payload(due, reminder_words(source, span))},
                             {"title": "แก้ไข", "payload": "/set_reminder"}],
                )
                return []
            target = reminder_target(source, speaker.in_group)
            subject = reminder_subject(source, span) or "เรื่องที่ตั้งไว้"
            chat_id = speaker.chat_id if target == "group" else speaker.user_id
            official = find_official(s, speaker.channel, speaker.user_id)
            mention = official.display_name if official and target == "person" else ""
            try:
                create_reminder(s, actor, channel=speaker.channel, chat_id=chat_id, target=target, text=subject, due_at=due, mention=mention)
            except ValueError:
                dispatcher.utter_message(response="utter_reminder_in_past")
                return []
            dispatcher.utter_message(
                response="utter_reminder_set",
                who="ทุกคนในกลุ่มนี้" if target == "group" else "คุณ",
                when=format_thai(due, with_time=True),
                subject=subject,
            )
        return []


__all__ = ["ActionAssignTask", "ActionCancelTask", "ActionCreateTask", "ActionListTasks", "ActionSetReminder", "ActionUpdateTaskStatus", "get_task"]


class ActionFallback(Action):
    """Low NLU confidence ("REQ-000004 ซ่อมเสร็จแล้วครับ เปลี่ยนหลอดใหม่ 2 ต้น" scored under the
    threshold): a registered official's message that names exactly one kind of ID is read by that
    ID (the classifier was unsure, the ID is not); anyone else gets the menu, as before."""

    def name(self) -> str:
        return "action_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        text = tracker.latest_message.get("text") or ""
        kinds = id_kinds(text) if not is_payload(text) else set()
        if len(kinds) == 1:
            speaker = speaker_of(tracker)
            with db.session() as s:
                official = find_official(s, speaker.channel, speaker.user_id)
                registered = official is not None and official.active
            if registered and kinds == {"request"} and not starts_task_creation(text):
                return ActionUpdateRequestStatus().run(dispatcher, tracker, domain)
            if registered and kinds == {"task"}:
                return ActionUpdateTaskStatus().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_fallback")
        return []
