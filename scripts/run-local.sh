#!/bin/sh
# Serve the simulator and the site together; stop both on Ctrl-C.
set -eu
BIN=${BIN:-.venv/bin}
"$BIN/python" -m webapp.simulator --host 127.0.0.1 --port "${SIM_PORT:-8001}" &
SIM_PID=$!
trap 'kill $SIM_PID 2>/dev/null || true' EXIT INT TERM
echo "Simulator on http://127.0.0.1:${SIM_PORT:-8001}; starting Reelay (it says when it listens) ..."
# GUNICORN_WORKERS (default 1) workers with threads; each runs the poller's scheduler,
# and leases make any number of workers or hosts safe.
"$BIN/gunicorn" --config gunicorn.conf.py --bind "${HOST:-127.0.0.1}:${PORT:-8000}" wsgi:app
