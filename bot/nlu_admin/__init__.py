"""Admins tune intents through training data (app runtime).

- `training_data`: read `nlu_data/` and write admins' annotations into it as
  ordinary Rasa YAML (one file per intent group, no duplicates, sorted);
- `checks`: the project's own data checks besides `rasa data validate`;
- `evaluation`: compare a candidate model with the current one from Rasa's
  `rasa test nlu` results, and write the report;
- `charts`: confusion matrix and per-intent F1 images (Pillow);
- `models`: train a candidate, deploy it to the running Rasa server, roll back.

The engine runs as a subprocess (`.venv-rasa/bin/rasa`); nothing here imports Rasa.
"""
