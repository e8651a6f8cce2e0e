"""Installation secret and derived keys (common/internal_auth.py)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from bot.commands.run import rasa_endpoints_yaml
from common.settings import load_settings
from common import internal_auth


def test_generated_once_private_and_stable(tmp_path: Path) -> None:
    first = internal_auth.installation_secret(tmp_path)
    assert internal_auth.installation_secret(tmp_path) == first and len(first) >= 64
    assert stat.S_IMODE((tmp_path / internal_auth.FILE_NAME).stat().st_mode) == 0o600


def test_each_service_has_its_own_key(tmp_path: Path) -> None:
    keys = {internal_auth.service_key(tmp_path, p) for p in (internal_auth.ACTION_SERVER, internal_auth.RASA_API, internal_auth.GATEWAY_CHANNEL)}
    assert len(keys) == 3


def test_explicit_secret_wins_and_production_refuses_a_generated_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERNAL_SECRET", "s" * 40)
    assert internal_auth.installation_secret(tmp_path) == b"s" * 40
    monkeypatch.setenv("INTERNAL_SECRET", "short")
    with pytest.raises(internal_auth.MissingSecret):
        internal_auth.installation_secret(tmp_path)
    monkeypatch.delenv("INTERNAL_SECRET")
    monkeypatch.setenv("BOT_ENV", "production")
    with pytest.raises(internal_auth.MissingSecret):
        internal_auth.installation_secret(tmp_path)
    assert not (tmp_path / internal_auth.FILE_NAME).exists()


def test_bearer_check() -> None:
    assert internal_auth.bearer_matches("Bearer abc", "abc")
    assert not internal_auth.bearer_matches("Bearer abd", "abc")
    assert not internal_auth.bearer_matches(None, "abc")
    assert not internal_auth.bearer_matches("abc", "abc")


def test_rasa_sends_the_action_key_from_its_environment_not_from_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoints = rasa_endpoints_yaml(load_settings())
    assert "Bearer ${ACTION_SERVER_TOKEN}" in endpoints and "Bearer ${ACTION_SERVER_TOKEN}\"" not in endpoints
    # Rasa's YAML loader fills ${...} in plain scalars only: read it the way Rasa does
    monkeypatch.setenv("ACTION_SERVER_TOKEN", "k" * 64)
    path = tmp_path / "endpoints.yml"
    path.write_text(endpoints, encoding="utf-8")
    engine_python = Path(__file__).resolve().parents[2] / ".venv-rasa" / "bin" / "python"
    if not engine_python.exists():
        pytest.skip("engine runtime not installed")
    code = ("import sys; from rasa.utils.endpoints import read_endpoint_config; "
            "print(read_endpoint_config(sys.argv[1], 'action_endpoint').headers['Authorization'])")
    out = subprocess.run([str(engine_python), "-c", code, str(path)], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().endswith("Bearer " + "k" * 64)


def test_database_errors_do_not_carry_bound_values(tmp_path: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (phone TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:p)"), {"p": "0812345678"})
    with pytest.raises(SQLAlchemyError) as caught, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:p)"), {"p": "0812345678"})
    assert "0812345678" not in str(caught.value)
    engine.dispose()


def test_bot_run_refuses_production_without_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from bot.commands import run

    monkeypatch.setenv("BOT_ENV", "production")
    monkeypatch.delenv("INTERNAL_SECRET", raising=False)
    monkeypatch.setattr(run, "MODEL", tmp_path / "model.tar.gz")
    (tmp_path / "model.tar.gz").write_bytes(b"")
    monkeypatch.setattr(run, "_start", lambda *a, **k: pytest.fail("nothing may start"))
    monkeypatch.setattr("storage.migrate.upgrade", lambda *a, **k: pytest.fail("no start-up work before the secret check"))
    result = CliRunner().invoke(run.cli, [])
    assert result.exit_code != 0 and "INTERNAL_SECRET" in result.output
