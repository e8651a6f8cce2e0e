"""The engine package: code that runs inside Rasa's Python 3.10 runtime (.venv-rasa)."""
