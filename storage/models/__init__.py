"""All ORM models. Each feature keeps its models in its own module here; importing
this package imports every module so that `Base.metadata` knows every table."""

from __future__ import annotations

import importlib
import pkgutil

from storage.models.base import Base, utcnow

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Base", "utcnow"]
