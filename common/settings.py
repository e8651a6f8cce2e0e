"""Settings for the app runtime, read from the environment and an optional `.env`.

Every setting is documented in `.env.example`. Nothing here opens connections or
reads files beyond `.env`; call `get_settings()` where a value is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _load_dotenv() -> None:
    env_file = Path(os.environ.get("BOT_ENV_FILE", PROJECT_ROOT / ".env"))
    if env_file.is_file():
        from dotenv import load_dotenv

        load_dotenv(env_file, override=False)


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@dataclass(frozen=True)
class Settings:
    var_dir: Path
    database_url: str
    rasa_url: str
    action_server_port: int
    gateway_host: str
    gateway_port: int
    public_base_url: str
    timezone: str
    line_channel_secret: str
    line_channel_access_token: str
    line_api_base_url: str
    line_data_api_base_url: str
    telegram_bot_token: str
    telegram_webhook_secret: str
    telegram_mode: str
    telegram_api_base_url: str
    admin_token: str
    local_chat_enabled: bool
    log_message_text: bool
    max_body_bytes: int
    max_message_chars: int
    quiet_hours: str
    nlu_capture_retention_days: int
    line_group_triggers: str = "บอท"  # comma-separated words that address the bot in a LINE group (besides @mentions)
    rate_limits: str = ""  # RATE_LIMITS: "" = the defaults of storage/ratelimits.py, "off", or "messages=60/60,relays=off"
    # outbound calls to LINE and Telegram (docs/delivery.md)
    outbound_connect_timeout: float = 3.0  # seconds to connect to the platform's API
    outbound_read_timeout: float = 10.0  # seconds to wait for its answer
    outbound_channel_concurrency: int = 16  # replies in flight per platform at once (a stalled platform holds no more)
    reply_give_up_seconds: float = 900.0  # a reply not delivered this long after the message: recorded failed, sent later
    gateway_claims: str = "auto"  # per-conversation claims (several gateways, docs/gateways.md): auto = on with PostgreSQL
    # several Rasa replicas (docs/deploy.md): RASA_URLS comma-separated; RASA_URL alone is one replica
    rasa_urls: tuple[str, ...] = ()
    redis_url: str = ""  # REDIS_URL: Rasa's lock store and the replicas' serving state (draining/loading)
    redis_key_prefix: str = "thgovbot"  # REDIS_KEY_PREFIX: alphanumeric (Rasa ignores any other prefix silently)
    action_timeout: float = 20.0  # ACTION_TIMEOUT: seconds Rasa waits for the action server (bounds the longest turn)
    lock_lifetime: int = 60  # TICKET_LOCK_LIFETIME: seconds a conversation lock lives in Redis (> the longest turn)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def line_enabled(self) -> bool:
        return bool(self.line_channel_secret and self.line_channel_access_token)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)


def load_settings() -> Settings:
    """Read settings now (no caching); tests call this after changing the environment."""
    _load_dotenv()
    var_dir = Path(_str("BOT_VAR_DIR", str(PROJECT_ROOT / "var"))).resolve()
    database_url = _str("DATABASE_URL") or f"sqlite:///{var_dir / 'bot.db'}"
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        rasa_url=_rasa_urls()[0],
        action_server_port=_int("ACTION_SERVER_PORT", 5055),
        gateway_host=_str("GATEWAY_HOST", "127.0.0.1"),
        gateway_port=_int("GATEWAY_PORT", 8080),
        public_base_url=_str("PUBLIC_BASE_URL").rstrip("/"),
        timezone=_str("BOT_TIMEZONE", "Asia/Bangkok"),
        line_channel_secret=_str("LINE_CHANNEL_SECRET"),
        line_channel_access_token=_str("LINE_CHANNEL_ACCESS_TOKEN"),
        line_api_base_url=_str("LINE_API_BASE_URL", "https://api.line.me").rstrip("/"),
        line_data_api_base_url=_str("LINE_DATA_API_BASE_URL", "https://api-data.line.me").rstrip("/"),
        telegram_bot_token=_str("TELEGRAM_BOT_TOKEN"),
        telegram_webhook_secret=_str("TELEGRAM_WEBHOOK_SECRET"),
        telegram_mode=_str("TELEGRAM_MODE", "polling").lower(),
        telegram_api_base_url=_str("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot").rstrip("/"),
        admin_token=_str("ADMIN_TOKEN"),
        local_chat_enabled=_bool("LOCAL_CHAT_ENABLED", True),
        log_message_text=_bool("LOG_MESSAGE_TEXT", False),
        max_body_bytes=_int("MAX_BODY_BYTES", 1_000_000),
        max_message_chars=_int("MAX_MESSAGE_CHARS", 2000),
        quiet_hours=_str("QUIET_HOURS", "21:00-08:00"),
        nlu_capture_retention_days=_int("NLU_CAPTURE_RETENTION_DAYS", 90),
        line_group_triggers=_str("LINE_GROUP_TRIGGERS") or "บอท",
        rate_limits=_str("RATE_LIMITS"),
        outbound_connect_timeout=_float("OUTBOUND_CONNECT_TIMEOUT", 3.0),
        outbound_read_timeout=_float("OUTBOUND_READ_TIMEOUT", 10.0),
        outbound_channel_concurrency=max(1, _int("OUTBOUND_CHANNEL_CONCURRENCY", 16)),
        reply_give_up_seconds=_float("REPLY_GIVE_UP_SECONDS", 900.0),
        gateway_claims=(os.environ.get("GATEWAY_CLAIMS", "auto").strip().lower() or "auto"),
        rasa_urls=_rasa_urls(),
        redis_url=_str("REDIS_URL"),
        redis_key_prefix=_key_prefix(_str("REDIS_KEY_PREFIX", "thgovbot") or "thgovbot"),
        action_timeout=_float("ACTION_TIMEOUT", 20.0),
        lock_lifetime=_int("TICKET_LOCK_LIFETIME", 60),
    )


def _rasa_urls() -> tuple[str, ...]:
    """RASA_URLS (comma-separated) when set, else RASA_URL alone."""
    urls = tuple(u.strip().rstrip("/") for u in _str("RASA_URLS").split(",") if u.strip())
    return urls or (_str("RASA_URL", "http://127.0.0.1:5005").rstrip("/"),)


def _key_prefix(prefix: str) -> str:
    if not prefix.isalnum():
        raise ValueError(f"REDIS_KEY_PREFIX must be letters and digits only (Rasa's lock store ignores any other): {prefix!r}")
    return prefix


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
