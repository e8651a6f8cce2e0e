"""Rasa NLU training data as admins edit it: read `nlu_data/`, add examples and synonyms tidily.

The YAML in `nlu_data/` stays the single source of truth and friendly to git:
- an intent lives in one file: the file that already holds it, or for a new intent
  the group file the admin names (`nlu_data/<group>.yml`);
- only the block that changes is rewritten, its examples de-duplicated and sorted
  (Thai dictionary order); every other line of the file stays as it was;
- the new text is parsed back and checked before it atomically replaces the file;
- writers take a lock, so the admin page and the terminal never interleave.

An example is Rasa's markup: `ต่อ [ใบขับขี่](service) ที่ [กทม.](agency:กรุงเทพมหานคร)`.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from common.settings import PROJECT_ROOT

NLU_DATA = PROJECT_ROOT / "nlu_data"
DOMAIN_DIR = PROJECT_ROOT / "bot" / "domain"
HELD_OUT = PROJECT_ROOT / "tests" / "nlu" / "test_data"
NEW_INTENT_GROUP = "new_intents"
SYNONYM_GROUP = "synonyms"
RESERVED_INTENTS = frozenset({"nlu_fallback", "restart", "session_start", "back"})
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
ENTITY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
GROUP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
MAX_EXAMPLE = 500

# Rasa's own entity markup (rasa/shared/nlu/training_data/entities_parser.py), without list forms.
_ENTITY = re.compile(r"\[(?P<text>[^\]]+?)\](?:\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<dict>[^}]+?)\})")
# Rasa's complete grammar (rasa/shared/nlu/training_data/entities_parser.py ENTITY_REGEX), list form included:
# every annotation Rasa would find must be one this editor understands, or training fails on the file.
_RASA_ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<dict>[^}]+?)\}|\[(?P<list>.*?)\])"
)
_DICT_KEYS = frozenset({"entity", "value", "role", "group"})
_HEADER = re.compile(r"^(?P<indent>[ ]*)- (?P<kind>intent|synonym|lookup|regex):[ ]*(?P<name>\S.*?)[ ]*$")
_TONE = re.compile("[\u0e47-\u0e4c]")
_LEAD_VOWEL = re.compile("([\u0e40-\u0e44])([\u0e01-\u0e2e])")


class DataError(Exception):
    """The training data cannot be changed as asked. The message says why in English (CLI, logs);
    `code` lets the admin page say it in Thai."""

    def __init__(self, message: str, code: str = "data") -> None:
        super().__init__(message)
        self.code = code


class ExampleConflict(DataError):
    def __init__(self, example: str, intents: list[str]) -> None:
        super().__init__(f"the example is already an example of {', '.join(intents)}", "conflict")
        self.example = example
        self.intents = intents


PROBLEMS = {
    "empty": "the example is empty",
    "multiline": "an example is one line",
    "too_long": f"an example has at most {MAX_EXAMPLE} characters",
    "markup": "an entity annotation is malformed; write [text](entity) or [text](entity:value)",
    "entity_name": "an entity name is lower-case letters, digits and _",
}


# ---------------------------------------------------------------- examples


@dataclass(frozen=True)
class Annotated:
    text: str
    start: int
    end: int
    entity: str
    value: str | None = None  # the synonym's canonical value when it differs from the text


def parse_example(example: str) -> tuple[str, list[Annotated]]:
    """Plain text and the entity annotations of a markup example."""
    plain: list[str] = []
    found: list[Annotated] = []
    last = 0
    length = 0
    for match in _ENTITY.finditer(example):
        before = example[last : match.start()]
        plain.append(before)
        length += len(before)
        text = match.group("text")
        if match.group("dict") is not None:
            try:
                spec = json.loads("{" + match.group("dict") + "}")
            except (ValueError, RecursionError):
                spec = {}
            if not isinstance(spec, dict):
                spec = {}
            entity, value = str(spec.get("entity") or ""), spec.get("value")
        else:
            entity, value = match.group("entity").strip(), match.group("value")
        found.append(Annotated(text, length, length + len(text), entity, str(value) if value not in (None, text) else None))
        plain.append(text)
        length += len(text)
        last = match.end()
    plain.append(example[last:])
    return "".join(plain), found


def plain_text(example: str) -> str:
    return parse_example(example)[0]


def example_key(example: str) -> str:
    """Two examples with the same key are the same example (annotations and spacing aside)."""
    return " ".join(plain_text(example).split()).casefold()


def thai_sort_key(example: str) -> tuple[str, str, str]:
    """Thai dictionary order (a lead vowel after its consonant, tone marks only to break ties), then the markup."""
    text = plain_text(example).casefold()
    return _LEAD_VOWEL.sub(r"\2\1", _TONE.sub("", text)), "".join(_TONE.findall(text)), example


def build_example(text: str, entities: list[dict[str, Any]]) -> str:
    """Markup for `text` with entity dicts (`entity`, `start`, `end`, optional `value`) placed in it."""
    out: list[str] = []
    last = 0
    for entity in sorted(entities, key=lambda e: (e.get("start", 0), -e.get("end", 0))):
        start, end, name = entity.get("start"), entity.get("end"), str(entity.get("entity") or "")
        if not isinstance(start, int) or not isinstance(end, int) or start < last or end <= start or end > len(text):
            continue
        span = text[start:end]
        value = entity.get("value")
        if not ENTITY_NAME.match(name) or any(c in span for c in "[]()") or span != span.strip():
            continue
        suffix = f":{value}" if isinstance(value, str) and value and value != span and not any(c in value for c in "()[]") else ""
        out.append(text[last:start])
        out.append(f"[{span}]({name}{suffix})")
        last = end
    out.append(text[last:])
    return "".join(out)


def example_problems(example: str) -> list[str]:
    """Why an example cannot be written, as codes of PROBLEMS (empty list: fine)."""
    problems = []
    plain, found = parse_example(example)
    if not plain.strip():
        problems.append("empty")
    if "\n" in example or "\r" in example:
        problems.append("multiline")
    if len(example) > MAX_EXAMPLE:
        problems.append("too_long")
    if re.search(r"\]\(|\]\{", plain):
        problems.append("markup")
    if any(not _rasa_reads(match) for match in _RASA_ENTITY.finditer(example)):
        problems.append("markup")
    if any(not ENTITY_NAME.match(item.entity) for item in found):
        problems.append("entity_name")
    return list(dict.fromkeys(problems))


def _rasa_reads(match: re.Match[str]) -> bool:
    """Whether Rasa's parser accepts this annotation the way parse_example reads it ("[x][{y}]" it does not)."""
    if match.group("list") is not None:
        return False  # "[text][{...}, {...}]": several entities on one span, not written by this editor
    if match.group("dict") is None:
        return True
    try:
        spec = json.loads("{" + match.group("dict") + "}")
    except (ValueError, RecursionError):
        return False
    return (isinstance(spec, dict) and set(spec) <= _DICT_KEYS and isinstance(spec.get("entity"), str)
            and all(isinstance(v, str) for v in spec.values()))


# ---------------------------------------------------------------- files


@dataclass
class Block:
    kind: str  # intent, synonym, lookup, regex
    name: str
    examples: list[str]
    start: int  # line index of the header
    end: int  # line index after the block
    indent: str = "  "
    extra_keys: set[str] = field(default_factory=set)


@dataclass
class DataFile:
    path: Path
    lines: list[str]
    blocks: list[Block]

    def find(self, kind: str, name: str) -> Block | None:
        return next((b for b in self.blocks if b.kind == kind and b.name == name), None)


def _examples(value: Any) -> list[str]:
    if not isinstance(value, str):
        return []
    return [line.strip()[2:].strip() for line in value.splitlines() if line.strip().startswith("- ")]


def read_data_file(path: Path) -> DataFile:
    text = path.read_text(encoding="utf-8")
    try:
        parsed = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{path.name} is not valid YAML: {exc}") from exc
    if not isinstance(parsed, dict) or not set(parsed) <= {"version", "nlu"}:
        raise DataError(f"{path.name}: expected only `version` and `nlu`")
    items = parsed.get("nlu") or []
    lines = text.splitlines(keepends=True)
    headers = [i for i, line in enumerate(lines) if _HEADER.match(line.rstrip("\r\n"))]
    if len(headers) != len(items):
        raise DataError(f"{path.name}: the blocks are laid out unusually; edit this file by hand")
    blocks = []
    for n, (index, item) in enumerate(zip(headers, items)):
        match = _HEADER.match(lines[index].rstrip("\r\n"))
        assert match is not None
        kind = match.group("kind")
        if not isinstance(item, dict) or kind not in item:
            raise DataError(f"{path.name}: block {n + 1} does not match its header")
        end = headers[n + 1] if n + 1 < len(headers) else len(lines)
        while end > index + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1  # blank lines and comments between blocks stay where they are
        blocks.append(Block(kind, str(item[kind]), _examples(item.get("examples")), index, end, match.group("indent"),
                            set(item) - {kind, "examples"}))
    return DataFile(path, lines, blocks)


def data_files(data_dir: Path) -> list[DataFile]:
    return [read_data_file(p) for p in sorted(Path(data_dir).glob("*.yml")) + sorted(Path(data_dir).glob("*.yaml"))]


def intent_examples(data_dir: Path) -> dict[str, list[tuple[str, Path]]]:
    """intent -> [(example, file)] over every file of the directory."""
    found: dict[str, list[tuple[str, Path]]] = {}
    for data_file in data_files(data_dir):
        for block in data_file.blocks:
            if block.kind == "intent":
                found.setdefault(block.name, []).extend((e, data_file.path) for e in block.examples)
    return found


def intent_files(data_dir: Path) -> dict[str, Path]:
    """Which file is each intent's home: the one holding most of its examples (the first of equals), so an
    annotation lands beside the intent's main examples, not in a smaller file of extra phrasings."""
    counts: dict[str, dict[Path, int]] = {}
    for data_file in data_files(data_dir):
        for block in data_file.blocks:
            if block.kind == "intent":
                per_file = counts.setdefault(block.name, {})
                per_file[data_file.path] = per_file.get(data_file.path, 0) + len(block.examples)
    return {name: max(per_file, key=per_file.__getitem__) for name, per_file in counts.items()}


def domain_names(domain_dir: Path = DOMAIN_DIR) -> tuple[set[str], set[str]]:
    """(intents, entities) declared in the Rasa domain files."""
    intents: set[str] = set()
    entities: set[str] = set()
    for path in sorted(Path(domain_dir).glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, target in (("intents", intents), ("entities", entities)):
            for item in data.get(key) or []:
                if isinstance(item, str):
                    target.add(item)
                elif isinstance(item, dict):
                    target.update(str(k) for k in item)
    return intents, entities


def _scalar(name: str) -> str:
    try:
        plain_ok = yaml.safe_load(name) == name and not re.search(r"[#:{}\[\],&*!|>'\"%@`]", name)
    except yaml.YAMLError:
        plain_ok = False
    return name if plain_ok else json.dumps(name, ensure_ascii=False)


def render_block(kind: str, name: str, examples: list[str], indent: str = "  ") -> list[str]:
    return [f"{indent}- {kind}: {_scalar(name)}\n", f"{indent}  examples: |\n"] + [f"{indent}    - {e}\n" for e in examples]


def tidy(examples: list[str], *, ignore_case: bool = True) -> list[str]:
    """De-duplicated (an annotated form wins over a bare one) and sorted.

    Intent examples differing only in letter case are duplicates (the featurizers
    lower-case); synonym variants are compared as written.
    """
    chosen: dict[str, str] = {}
    for example in examples:
        key = example_key(example) if ignore_case else " ".join(example.split())
        if key not in chosen or (len(parse_example(example)[1]) > len(parse_example(chosen[key])[1])):
            chosen[key] = example
    return sorted(chosen.values(), key=thai_sort_key)


def _atomic_write(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _verify(path: Path, text: str, expected: dict[tuple[str, str], list[str] | None]) -> None:
    """Parse the new text back: every changed block must read exactly as intended."""
    try:
        parsed = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise DataError(f"{path.name}: the change would not be valid YAML ({exc})") from exc
    blocks = {}
    for item in parsed.get("nlu") or []:
        kind = next((k for k in ("intent", "synonym", "lookup", "regex") if k in item), None)
        if kind:
            blocks.setdefault((kind, str(item[kind])), _examples(item.get("examples")))
    for key, examples in expected.items():
        if blocks.get(key) != examples:
            raise DataError(f"{path.name}: the change would not read back as written ({key[0]} {key[1]})")


def write_blocks(path: Path, changes: dict[tuple[str, str], list[str] | None]) -> None:
    """Replace (or add, or with None remove) whole blocks of one file; other lines stay as they are."""
    if path.exists():
        data_file = read_data_file(path)
        lines = list(data_file.lines)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
    else:
        data_file = DataFile(path, [], [])
        lines = ['version: "3.1"\n', "\n", "nlu:\n"]
    present = {(b.kind, b.name): b for b in data_file.blocks}
    for block in sorted((present[k] for k in changes if k in present), key=lambda b: -b.start):
        examples = changes[(block.kind, block.name)]
        if block.extra_keys:
            raise DataError(f"{path.name}: {block.kind} {block.name} has keys besides examples; edit it by hand")
        if examples is None:
            end = block.end
            while end < len(lines) and not lines[end].strip():
                end += 1  # take the blank line after it along
            lines[block.start : end] = []
        else:
            lines[block.start : block.end] = render_block(block.kind, block.name, examples, block.indent)
    for (kind, name), examples in changes.items():
        if (kind, name) in present or examples is None:
            continue
        while lines and not lines[-1].strip():
            lines.pop()
        if lines and not lines[-1].rstrip().endswith("nlu:"):
            lines.append("\n")
        lines.extend(render_block(kind, name, examples))
    text = "".join(lines)
    _verify(path, text, {k: v for k, v in changes.items() if v is not None})
    _atomic_write(path, text)


@contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """One writer at a time for a data directory (the admin page and the terminal)."""
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ---------------------------------------------------------------- admins' changes


@dataclass(frozen=True)
class Written:
    path: Path
    added: bool  # False: it was there already
    replaced: str | None = None  # the bare example an annotated one replaced
    moved_from: tuple[str, ...] = ()  # intents the example was taken away from


def add_example(data_dir: Path, intent: str, example: str, *, group: str | None = None, move: bool = False) -> Written:
    """Add `example` (markup) to `intent`; a new intent goes to `<group>.yml` (default new_intents.yml).

    The same text under another intent is a conflict (ExampleConflict) unless `move`
    takes it from there.
    """
    problems = example_problems(example)  # before joining lines: a multi-line example is refused, not merged
    example = " ".join(example.split())
    if not INTENT_NAME.match(intent) or intent in RESERVED_INTENTS:
        raise DataError(f"{intent!r} is not a usable intent name (lower-case letters, digits, _)", "intent_name")
    if problems:
        raise DataError("; ".join(PROBLEMS[p] for p in problems), problems[0])
    if group is not None and not GROUP_NAME.match(group):
        raise DataError(f"{group!r} is not a usable file name (lower-case letters, digits, _)", "group_name")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    key = example_key(example)
    with locked(data_dir):
        files = data_files(data_dir)
        holders = [(f, b) for f in files for b in f.blocks if b.kind == "intent" and b.name != intent
                   and any(example_key(e) == key for e in b.examples)]
        if holders and not move:
            raise ExampleConflict(example, sorted({b.name for _, b in holders}))
        for data_file, block in holders:
            remaining = [e for e in block.examples if example_key(e) != key]
            if not remaining:
                raise DataError(f"moving the example would leave {block.name} without examples", "move_empties")
            write_blocks(data_file.path, {("intent", block.name): remaining})
        holding = [f for f in data_files(data_dir) if f.find("intent", intent)]
        home = max(holding, key=lambda f: len(f.find("intent", intent).examples), default=None)  # type: ignore[union-attr]
        path = home.path if home else data_dir / f"{group or NEW_INTENT_GROUP}.yml"
        current = home.find("intent", intent).examples if home else []  # type: ignore[union-attr]
        same = [e for e in current if example_key(e) == key]
        if example in same:
            return Written(path, False, moved_from=tuple(sorted({b.name for _, b in holders})))
        replaced = None
        if same:
            if len(parse_example(example)[1]) <= max(len(parse_example(e)[1]) for e in same):
                return Written(path, False)  # there already (with as many annotations or more)
            replaced = same[0]
        examples = tidy([e for e in current if example_key(e) != key] + [example])
        write_blocks(path, {("intent", intent): examples})
        return Written(path, True, replaced, tuple(sorted({b.name for _, b in holders})))


def add_synonym(data_dir: Path, canonical: str, variants: list[str], *, group: str = SYNONYM_GROUP) -> Written:
    """Add variants to the synonym block of `canonical` (created in `<group>.yml` when new)."""
    canonical = " ".join(canonical.split())
    variants = [" ".join(v.split()) for v in variants if v.strip()]
    if not canonical or not variants:
        raise DataError("a synonym needs a canonical value and at least one variant", "empty")
    if any(c in v for v in [canonical, *variants] for c in "[]()\n"):
        raise DataError("synonyms are plain text, without brackets", "markup")
    if not GROUP_NAME.match(group):
        raise DataError(f"{group!r} is not a usable file name", "group_name")
    data_dir = Path(data_dir)
    with locked(data_dir):
        files = data_files(data_dir)
        for data_file in files:
            for block in data_file.blocks:
                if block.kind == "synonym" and block.name != canonical:
                    clash = {v.casefold() for v in variants} & {e.casefold() for e in block.examples}
                    if clash:
                        raise DataError(f"{', '.join(sorted(clash))} already means {block.name}", "synonym_clash")
        home = next((f for f in files if f.find("synonym", canonical)), None)
        path = home.path if home else data_dir / f"{group}.yml"
        current = home.find("synonym", canonical).examples if home else []  # type: ignore[union-attr]
        if home is not None and {" ".join(v.split()) for v in variants} <= set(current):
            return Written(path, False)
        merged = tidy(current + variants, ignore_case=False)
        write_blocks(path, {("synonym", canonical): merged})
        return Written(path, True)
