"""`python -m webapp.simulator [--host 127.0.0.1] [--port 8001]`"""

import argparse
import logging

from werkzeug.serving import run_simple

from . import create_app


def main() -> None:
    ap = argparse.ArgumentParser(description="Reelay's upstream simulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(
        f"Reelay simulator on http://{args.host}:{args.port}  (key from $REELAY_SIM_KEY, default sim-key)"
    )
    run_simple(args.host, args.port, create_app(), threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
