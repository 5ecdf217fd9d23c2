#!/usr/bin/env python3
"""A continuous recorder of the Docker engine's container events, one JSON object a line.

The engine keeps only its last 256 events in memory, so on a busy engine "nobody ran docker exec
in this container since it was created" (DL-IMG-005) cannot be proven from the engine alone.
This recorder streams every container event from the moment it starts and appends it to a file
(driftless reads it through `targets[].docker.eventLog`). Each line is the event exactly as the
engine's API gives it, which is also what `docker events --format '{{json .}}'` prints. Every
start of the recorder first writes a marker line {"driftless": "recorder-start", "time": ...}:
a marker after a container's creation means the recorder was down for a while, and driftless
then refuses to call that container's history complete.

Usage: event-recorder.py <file> [socket]   (default socket /var/run/docker.sock)
"""
import http.client, json, os, socket, sys, time, urllib.parse

OUT = sys.argv[1] if len(sys.argv) > 1 else "/recorder/engine-events.jsonl"
SOCK = sys.argv[2] if len(sys.argv) > 2 else "/var/run/docker.sock"


class UnixConn(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=None)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCK)


def record(out):
    conn = UnixConn()
    flt = urllib.parse.quote(json.dumps({"type": ["container"]}))
    conn.request("GET", "/events?filters=%s" % flt)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("GET /events -> %d" % resp.status)
    # The marker is written once the stream is open: everything after it is recorded.
    now = time.time()
    out.write(json.dumps({"driftless": "recorder-start", "time": int(now), "timeNano": int(now * 1e9)}) + "\n")
    out.flush()
    buf = b""
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            raise RuntimeError("the engine closed the event stream")
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                json.loads(line)  # only whole, valid events are written
                out.write(line.decode() + "\n")
        out.flush()
        os.fsync(out.fileno())


if __name__ == "__main__":
    os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
    with open(OUT, "a", encoding="utf-8") as out:
        while True:
            try:
                record(out)
            except Exception as e:  # a restarted engine: reconnect, with a new marker (a gap)
                print(json.dumps({"msg": "event stream lost, reconnecting", "error": str(e)}), flush=True)
                time.sleep(1)
