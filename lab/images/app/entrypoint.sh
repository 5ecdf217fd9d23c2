#!/bin/bash
# PID 1 of a lab web host: runs the HTTP service and sshd; if either dies the container dies,
# so the supervisor (or nothing, for snowflake) decides what comes back.
set -u
mkdir -p /run/sshd
python3 /opt/app/server.py &
# Only the snowflake image has a cron daemon (a negative control of the example checks).
if [ -x /usr/sbin/cron ]; then /usr/sbin/cron; fi
/usr/sbin/sshd -D -e -p "${SSH_PORT:?SSH_PORT is not set}" &
trap 'kill -TERM $(jobs -p) 2>/dev/null; wait; exit 0' TERM INT
wait -n
exit 1
