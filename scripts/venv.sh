# shellcheck shell=bash
# Sourced by the scripts: make sure .venv exists and holds the pinned test dependencies, saying each
# step on stderr (a first run takes about a minute here, a later one a few seconds).
# Only Python 3.10+ and git are assumed on the machine.
python=${PYTHON:-python3}
step=${0##*/}
if [ ! -x .venv/bin/python ]; then
  echo "$step: creating .venv with $("$python" --version 2>&1)" >&2
  "$python" -m venv .venv
fi
echo "$step: pip: bringing .venv to the pinned requirements-dev.txt (about a minute the first time, seconds after)" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
