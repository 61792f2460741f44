# shellcheck shell=bash
# Sourced by the scripts: make sure .venv exists and holds the pinned test dependencies.
# Only Python 3.10+ and git are assumed on the machine.
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $("$python" --version 2>&1)" >&2
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
