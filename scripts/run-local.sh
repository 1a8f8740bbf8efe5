#!/bin/sh
# Serve the simulator and the site together; stop both on Ctrl-C.
set -eu
BIN=${BIN:-.venv/bin}
"$BIN/python" -m webapp.simulator --host 127.0.0.1 --port "${SIM_PORT:-8001}" &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null || true' EXIT INT TERM
echo "Reelay on http://${HOST:-127.0.0.1}:${PORT:-8000}  (simulator on :${SIM_PORT:-8001})"
# One worker with threads: the in-process scheduler runs once; the poller's lease makes
# more workers or hosts safe too.
"$BIN/gunicorn" --config gunicorn.conf.py --bind "${HOST:-127.0.0.1}:${PORT:-8000}" wsgi:app
