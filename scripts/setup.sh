#!/usr/bin/env bash
# Make .venv from the project's own files (Python 3.11). With --test, also the test
# dependencies and Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"PeoplePath needs Python 3.11, found {sys.version.split()[0]}"'

want=requirements.txt
[ "${1:-}" = "--test" ] && want=requirements-dev.txt
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename $want .txt)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$want"
  # trackeval declares GUI OpenCV and matplotlib but its MOT metrics need neither.
  .venv/bin/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
  touch "$stamp"
fi

# The timeline's plotly.js basic bundle (npm; without npm the dashboard uses the plotly
# package's full bundle: 3.5 MB against 1.1 MB, 1.08 s against 0.14 s to run in a browser here).
timeline=components/timeline_view/frontend
if [ ! -f "$timeline/node_modules/plotly.js-basic-dist-min/plotly-basic.min.js" ]; then
  if command -v npm >/dev/null; then
    npm ci --prefix "$timeline" --no-audit --no-fund --silent
  else
    echo "npm not found: the timeline will load plotly's full bundle (slower to start)" >&2
  fi
fi

# /usr/bin/time (Debian's time) measures peak memory in bench/bench_memory.py and tests/test_memory.py.
if [ "${1:-}" = "--test" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/time ]; }; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium time >/dev/null
  else
    echo "The tests need Debian's chromium (/usr/bin/chromium) and time (/usr/bin/time): sudo apt-get install chromium time" >&2
    exit 1
  fi
fi
