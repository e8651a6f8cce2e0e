"""Shim: the Thai tokenizer now lives in `engine/thai_tokenizer.py`.

Kept because trained models record their components' class paths: models trained before the
floor plan (`models/current.tar.gz` and any older model kept for a rollback) name
`bot.nlu.thai_tokenizer.ThaiTokenizer` and must keep loading. New models name
`engine.thai_tokenizer.ThaiTokenizer` (config.yml). Remove once no kept model names this path.
"""

from engine.thai_tokenizer import ThaiTokenizer

__all__ = ["ThaiTokenizer"]
