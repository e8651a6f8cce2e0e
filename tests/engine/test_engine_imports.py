"""The engine package and the ground floor import in Rasa's runtime with no app package present.

Runs in .venv-rasa (Python 3.10). A child interpreter sees only `engine/` and `common/` (linked into
an empty folder), and refuses any import of an app package, so an app import sneaking into the
engine or the ground floor fails here even where the app packages happen to be installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ("bot", "actions", "usecases", "connectors", "storage")

CHILD = """
import importlib, importlib.abc, pkgutil, sys

APP = {app!r}

class NoApp(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in APP:
            raise ImportError(f"app package imported from the engine runtime: {{name}}")
        return None

sys.meta_path.insert(0, NoApp())
names = []
for package in ("common", "engine"):
    module = importlib.import_module(package)
    names.append(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        names.append(info.name)
print(sys.version_info[:2], " ".join(sorted(names)))
"""


def test_engine_and_ground_floor_import_without_the_app(tmp_path: Path) -> None:
    for package in ("engine", "common"):
        (tmp_path / package).symlink_to(ROOT / package, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(tmp_path), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([sys.executable, "-c", CHILD.format(app=APP_PACKAGES)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "(3, 10)" in result.stdout  # the engine runtime's Python
    for module in ("engine.thai_tokenizer", "engine.channel", "common.thai_text", "common.thai_datetime", "common.replies",
                   "common.settings", "common.ids", "common.clock"):
        assert module in result.stdout.split()


def test_the_app_packages_are_really_absent_from_the_child(tmp_path: Path) -> None:
    """The guard itself: importing an app package in the child fails."""
    (tmp_path / "common").symlink_to(ROOT / "common", target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(tmp_path))
    probe = CHILD.format(app=APP_PACKAGES).replace('for package in ("common", "engine"):', 'import storage\nfor package in ():')
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0 and "app package imported" in result.stderr


def test_the_old_class_paths_still_name_the_engine_classes() -> None:
    """Models trained before the move record bot.nlu.thai_tokenizer.ThaiTokenizer; old credentials name bot.rasa_channel."""
    import rasa.shared.utils.common as rasa_common

    from engine.channel import GatewayInput
    from engine.thai_tokenizer import ThaiTokenizer

    assert rasa_common.class_from_module_path("bot.nlu.thai_tokenizer.ThaiTokenizer") is ThaiTokenizer
    assert rasa_common.class_from_module_path("bot.rasa_channel.GatewayInput") is GatewayInput
    assert rasa_common.class_from_module_path("engine.thai_tokenizer.ThaiTokenizer") is ThaiTokenizer
