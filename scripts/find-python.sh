#!/usr/bin/env bash
# Print the path of a Python interpreter for one runtime: `find-python.sh engine` (3.10)
# or `find-python.sh app` (>= 3.11). Exits 1 with a one-line explanation when none is found.
set -u
want=${1:?usage: find-python.sh engine|app}

ok_version() {  # $1 = interpreter, $2 = python expression that must be true
  "$1" -c "import sys; sys.exit(0 if $2 else 1)" >/dev/null 2>&1
}

candidates=()
if [ "$want" = engine ]; then
  check='sys.version_info[:2] == (3, 10)'
  [ -n "${ENGINE_PYTHON:-}" ] && candidates+=("$ENGINE_PYTHON")
  candidates+=(python3.10)
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -rV); do
      candidates+=("$(pyenv root)/versions/$v/bin/python3.10")
    done
  fi
  for p in "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    candidates+=("$p")
  done
  hint="Python 3.10 is needed for the Rasa engine (.venv-rasa): install it (e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv') or set ENGINE_PYTHON=/path/to/python3.10."
else
  check='sys.version_info[:2] >= (3, 11)'
  [ -n "${APP_PYTHON:-}" ] && candidates+=("$APP_PYTHON")
  candidates+=(python3 python3.13 python3.12 python3.11)
  for p in "$HOME"/.pyenv/versions/3.1[1-9]*/bin/python3; do candidates+=("$p"); done
  hint="Python 3.11 or newer is needed for the app runtime (.venv): install it or set APP_PYTHON=/path/to/python3.11."
fi

for c in "${candidates[@]}"; do
  path=$(command -v "$c" 2>/dev/null) || continue
  if ok_version "$path" "$check"; then
    echo "$path"
    exit 0
  fi
done
echo "$hint" >&2
exit 1
