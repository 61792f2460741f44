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
# pip runs only when the requirement files changed since it last succeeded here (their checksums are
# kept in .venv/.requirements-installed): a run with nothing to install costs pip's start-up (2-3 s),
# which every ./scripts/up-local and ./scripts/test paid. Delete that file to force pip.
stamp=.venv/.requirements-installed
wanted=$(cksum requirements.txt requirements-dev.txt 2>/dev/null || true)
if [ -n "$wanted" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  echo "$step: pip: .venv already holds the pinned requirements-dev.txt (unchanged since; rm $stamp to force)" >&2
else
  echo "$step: pip: bringing .venv to the pinned requirements-dev.txt (about a minute the first time, seconds after)" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  printf '%s\n' "$wanted" >"$stamp"
fi
