#!/bin/sh
# Like the official image: `redis-server ...` listens on every interface without protected mode
# (appended, so `redis-server --version` and `redis-server FILE.conf ...` still work).
if [ "${1:-}" = redis-server ]; then exec "$@" --protected-mode no; fi
exec "$@"
