"""Officials' actions in Telegram groups: tasks and reminders.

Thin: identity from message metadata, parsing helpers in `actions.official_parsing`,
rules and data in `storage.tasks` / `storage.reminders`; wording in
`bot/domain/officials.yml`. A citizen or an unregistered person gets a polite
refusal and nothing changes.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import db
from actions.identity import Speaker, speaker_of
from actions.official_parsing import (
    entity_values,
    list_scope,
    parse_deadline,
    percent_in,
    reminder_subject,
    reminder_target,
    status_from,
    task_title_from,
)
from common.ids import format_task_id, parse_task_id
from common.thai_datetime import format_thai
from storage.models.officials import Official
from storage.officials import Actor, PermissionDenied, find_official, group_link, require_official
from storage.reminders import create_reminder
from storage.tasks import (
    STATUS_THAI,
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
    who = ", ".join(sorted({a.agency for a in task.assignees if a.agency})) or task.owner_agency or "-"
    return f"{task.code} {task.title} | {status} | กำหนด {_thai_deadline(task)} | {who}"


class ActionCreateTask(Action):
    def name(self) -> str:
        return "action_create_task"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        text = tracker.latest_message.get("text") or ""
        entities = tracker.latest_message.get("entities") or []
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            title = task_title_from(text, entities)
            if not title:
                dispatcher.utter_message(response="utter_task_needs_title")
                return []
            deadline = parse_deadline(text, entities)
            link = group_link(s, speaker.channel, speaker.chat_id) if speaker.in_group else None
            task = create_task(
                s, actor, title=title, channel=speaker.channel, chat_id=speaker.chat_id,
                owner_agency=actor.agency, project_id=link.project_id if link else None,
                deadline=deadline.datetime if deadline and not deadline.ambiguous else None,
                deadline_has_time=deadline.has_time if deadline else True,
                assignee_agencies=[a for a in entity_values(entities, "agency") if a != actor.agency],
            )
            dispatcher.utter_message(response="utter_task_created", task=_task_line(task))
            if deadline and deadline.ambiguous:
                _ask_deadline_confirmation(dispatcher, task.code, deadline)
        return []


def _ask_deadline_confirmation(dispatcher: CollectingDispatcher, code: str, deadline) -> None:  # type: ignore[no-untyped-def]
    when = format_thai(deadline.datetime, with_time=deadline.has_time)
    payload = '/update_task_status{"task_id": "%s", "time": "%s"}' % (code, deadline.datetime.isoformat())
    dispatcher.utter_message(
        response="utter_confirm_deadline",
        task_id=code,
        when=when,
        buttons=[{"title": f"ใช่ {when}", "payload": payload}, {"title": "ไม่ใช่", "payload": "/deny"}],
    )


class ActionAssignTask(Action):
    def name(self) -> str:
        return "action_assign_task"

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
            person = _mentioned_official(s, speaker, text)
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


def _mentioned_official(session, speaker: Speaker, text: str):  # type: ignore[no-untyped-def]
    """An official named with @ in the message, matched by display name."""
    import re

    from sqlalchemy import select

    for handle in re.findall(r"@([^\s@]+)", text):
        official = session.scalar(
            select(Official).where(Official.channel == speaker.channel, Official.active.is_(True),
                                   (Official.display_name == handle) | (Official.user_id == handle))
        )
        if official is not None:
            return official
    return None


def _task_id(text: str, entities: list[dict[str, Any]]) -> int | None:
    for value in entity_values(entities, "task_id"):
        parsed = parse_task_id(value)
        if parsed is not None:
            return parsed
    import re

    match = re.search(r"(?i)(?<![a-z])t\s*-?\s*[0-9๐-๙]+", text)
    return parse_task_id(match.group(0)) if match else None


class ActionUpdateTaskStatus(Action):
    def name(self) -> str:
        return "action_update_task_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        text = tracker.latest_message.get("text") or ""
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
                times = entity_values(entities, "time")
                status = status_from(text, entities)
                if status is None and times:
                    deadline = parse_deadline(text, entities)
                    if deadline is None:
                        dispatcher.utter_message(response="utter_time_not_understood")
                        return []
                    task = set_deadline(s, actor, task_id, deadline.datetime, deadline.has_time)
                    dispatcher.utter_message(response="utter_task_deadline_set", task=_task_line(task))
                    return []
                if status is None:
                    dispatcher.utter_message(response="utter_task_needs_status", task_id=code)
                    return []
                reason = text if status == "blocked" else None
                task = update_status(s, actor, task_id, status, percent=percent_in(text), reason=reason)
            except TaskNotFound:
                dispatcher.utter_message(response="utter_task_not_found", task_id=code)
                return []
            except PermissionDenied:
                dispatcher.utter_message(response="utter_task_not_yours", task_id=code)
                return []
            dispatcher.utter_message(response="utter_task_updated", task=_task_line(task))
        return []


class ActionListTasks(Action):
    def name(self) -> str:
        return "action_list_tasks"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        text = tracker.latest_message.get("text") or ""
        entities = tracker.latest_message.get("entities") or []
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            scope = list_scope(text)
            agencies = entity_values(entities, "agency")
            link = group_link(s, speaker.channel, speaker.chat_id) if speaker.in_group else None
            project_id = link.project_id if link and scope != "mine" and not agencies else None
            tasks = list_tasks(s, actor, TaskFilter(scope, agencies[0] if agencies else None, project_id))
            if not tasks:
                dispatcher.utter_message(response="utter_no_tasks")
                return []
            title = {"overdue": "งานที่เลยกำหนด", "mine": "งานของคุณ", "all": "งานทั้งหมด"}.get(scope, "งานที่ยังไม่เสร็จ")
            if agencies:
                title += f" ของ{agencies[0]}"
            lines = "\n".join(f"• {_task_line(t)}" for t in tasks)
            dispatcher.utter_message(response="utter_task_list", title=title, count=len(tasks), tasks=lines)
        return []


class ActionSetReminder(Action):
    def name(self) -> str:
        return "action_set_reminder"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> Events:
        speaker = speaker_of(tracker)
        text = tracker.latest_message.get("text") or ""
        entities = tracker.latest_message.get("entities") or []
        with db.session() as s:
            actor = _actor(s, speaker, dispatcher)
            if actor is None:
                return []
            when = parse_deadline(text, entities)
            if when is None:
                dispatcher.utter_message(response="utter_reminder_needs_time")
                return []
            if when.ambiguous:
                dispatcher.utter_message(response="utter_reminder_ambiguous_time", reason=when.reason or "")
                return []
            target = reminder_target(text, speaker.in_group)
            subject = reminder_subject(text, when.span) or "เรื่องที่ตั้งไว้"
            chat_id = speaker.chat_id if target == "group" else speaker.user_id
            official = find_official(s, speaker.channel, speaker.user_id)
            mention = official.display_name if official and target == "person" else ""
            due = when.datetime if when.has_time else when.datetime.replace(hour=9, minute=0)
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


__all__ = ["ActionAssignTask", "ActionCreateTask", "ActionListTasks", "ActionSetReminder", "ActionUpdateTaskStatus", "get_task"]
