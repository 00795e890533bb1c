#!/bin/sh
# Runs inside a strata session: shows what the session sees.
echo "$GREETING"
echo "hostname: $(hostname)"
echo "pid: $$ (a fresh PID namespace)"
echo "workdir: $(pwd)"
echo "network interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
