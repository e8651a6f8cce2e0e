#!/usr/bin/env bash
# Regenerate the hash-pinned lock files of both runtimes (needs network access to the package index).
#   requirements-app.lock   app runtime, Python 3.11, from pyproject.toml with the dev extra
#   requirements-rasa.lock  engine runtime, CPython 3.10 on linux x86_64 (manylinux 2.28) only, from requirements-rasa.txt
# `make` installs from them with `pip --require-hashes`. Run after changing pyproject.toml or requirements-rasa.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools" && "$tools/bin/pip" install --quiet uv
"$tools/bin/uv" pip compile pyproject.toml --extra dev --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --generate-hashes --quiet -o requirements-app.lock
"$tools/bin/uv" pip compile requirements-rasa.txt --python-version 3.10 --python-platform x86_64-manylinux_2_28 \
  --generate-hashes --quiet -o requirements-rasa.lock
echo "wrote requirements-app.lock and requirements-rasa.lock"
