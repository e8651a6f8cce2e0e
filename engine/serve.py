"""Start `rasa run` with its HTTP API behind a JWT, without the secret on the command line.

Rasa's `--auth-token` is read from the query string and compared with `==`; its JWT
option takes a header. The JWT secret (derived from the installation secret, see
common/internal_auth.py) is passed here in the environment (RASA_JWT_SECRET) and added
to Rasa's arguments inside this process, so it never shows in `ps`.

usage: python -m engine.serve run --enable-api ... (any `rasa` arguments)
"""

from __future__ import annotations

import os
import sys

JWT_ENV = "RASA_JWT_SECRET"


def main() -> None:
    secret = os.environ.pop(JWT_ENV, "").strip()
    args = sys.argv[1:]
    if "--enable-api" in args:
        if not secret:
            sys.exit(f"{JWT_ENV} is required when the HTTP API is enabled")
        args += ["--jwt-secret", secret, "--jwt-method", "HS256"]
    if "--debug" in args or "-vv" in args:
        sys.exit("refusing --debug: Rasa's debug log holds what people typed")
    sys.argv = ["rasa", *args]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
