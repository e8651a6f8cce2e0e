"""Where the admin tools read and write, and how they train and judge (one place for the CLI and the page).

Defaults are the project's own folders. Environment variables move them, so a test (or a
staging host) trains from a copy of the data into its own model folder without touching
the repository:

- `NLU_ADMIN_DATA_DIR`: the training data (default `nlu_data/`);
- `NLU_ADMIN_MODELS_DIR`: current/previous/candidate models (default `models/`);
- `NLU_ADMIN_TRAIN_CONFIG`: the Rasa config to train with (default `config.yml`);
- `NLU_ADMIN_HELD_OUT`: the held-out set (default `tests/nlu/test_data`);
- `NLU_ADMIN_REPORTS`: comparison reports (default `reports/nlu_compare/`);
- `NLU_ADMIN_CV_FOLDS`: cross-validation folds of a comparison (default 3; 0 skips it);
- `NLU_ADMIN_GATE`: the comparison gate, e.g. `tolerance=0.01,min_accuracy=0.9,entity_tolerance=0.05`
  (any field of `bot.nlu_admin.evaluation.Gate`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from bot.nlu_admin.evaluation import Gate
from bot.nlu_admin.models import MODEL_DIR, REPORTS, Store
from bot.nlu_admin.training_data import HELD_OUT, NLU_DATA
from common.settings import PROJECT_ROOT


def parse_gate(text: str) -> Gate:
    """`tolerance=0.5,min_accuracy=0` -> Gate(...); unknown or malformed fields raise ValueError."""
    known = {f.name: f.type for f in dataclasses.fields(Gate)}
    values: dict[str, float | int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, raw = part.partition("=")
        name = name.strip()
        if name not in known:
            raise ValueError(f"unknown gate field {name!r} (known: {', '.join(known)})")
        values[name] = int(raw) if name == "min_support" else float(raw)
    return Gate(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Workspace:
    data: Path = NLU_DATA
    models: Path = MODEL_DIR
    config: Path = PROJECT_ROOT / "config.yml"
    held_out: Path = HELD_OUT
    reports: Path = REPORTS
    folds: int = 3
    gate: Gate = field(default_factory=Gate)

    @classmethod
    def from_env(cls) -> Workspace:
        env = os.environ

        def path(name: str, default: Path) -> Path:
            value = env.get(name, "").strip()
            return Path(value) if value else default

        return cls(
            data=path("NLU_ADMIN_DATA_DIR", NLU_DATA), models=path("NLU_ADMIN_MODELS_DIR", MODEL_DIR),
            config=path("NLU_ADMIN_TRAIN_CONFIG", PROJECT_ROOT / "config.yml"), held_out=path("NLU_ADMIN_HELD_OUT", HELD_OUT),
            reports=path("NLU_ADMIN_REPORTS", REPORTS), folds=int(env.get("NLU_ADMIN_CV_FOLDS", "").strip() or 3),
            gate=parse_gate(env.get("NLU_ADMIN_GATE", "")),
        )

    def store(self) -> Store:
        return Store(self.models)

    @property
    def default_inputs(self) -> bool:
        """Trains from the project's own data and config (then scripts/train_model.py's fingerprint applies)."""
        return self.data.resolve() == NLU_DATA.resolve() and self.config.resolve() == (PROJECT_ROOT / "config.yml").resolve()
