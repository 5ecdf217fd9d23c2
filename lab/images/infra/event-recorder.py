#!/usr/bin/env python3
"""A continuous recorder of the Docker engine's container events, one JSON object a line.

The engine keeps only its last 256 events in memory, so on a busy engine "nobody ran docker exec
in this container since it was created" (DL-IMG-005) cannot be proven from the engine alone.
This recorder streams every container event from the moment it starts and appends it to a file
(driftless reads it through `targets[].docker.eventLog`). Each line is the event exactly as the
engine's API gives it, which is also what `docker events --format '{{json .}}'` prints. Every
start of the recorder first writes a marker line {"driftless": "recorder-start", "time": ...}:
a marker after a container's creation means the recorder was down for a while, and driftless
then refuses to call that container's history complete. While the engine's stream is open it
also writes a heartbeat {"driftless": "heartbeat", "interval": 5, "time": ...} every 5 s: a
stretch of more than twice that without one (the recorder stopped, frozen, or its file written
by something else) is a gap too, and a log without heartbeats proves nothing (`docker events`
writes none and does not replay what it missed while it was down).

Usage: event-recorder.py <file> [socket]   (default socket /var/run/docker.sock)
"""
import http.client, json, os, socket, sys, threading, time, urllib.parse

OUT = sys.argv[1] if len(sys.argv) > 1 else "/recorder/engine-events.jsonl"
SOCK = sys.argv[2] if len(sys.argv) > 2 else "/var/run/docker.sock"
HEARTBEAT = 5  # seconds; stated in every heartbeat line, so the reader knows what gap to allow


class UnixConn(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=None)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCK)


def mark(out, kind):
    now = time.time()
    out.write(json.dumps({"driftless": kind, "interval": HEARTBEAT, "time": int(now), "timeNano": int(now * 1e9)}) + "\n")


def record(out):
    conn = UnixConn()
    flt = urllib.parse.quote(json.dumps({"type": ["container"]}))
    conn.request("GET", "/events?filters=%s" % flt)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("GET /events -> %d" % resp.status)
    lock = threading.Lock()  # one writer at a time: events and heartbeats never interleave mid-line
    # The marker is written once the stream is open: everything after it is recorded.
    with lock:
        mark(out, "recorder-start")
        out.flush()
    ended = threading.Event()
    failure = []

    def pump():
        try:
            buf = b""
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    raise RuntimeError("the engine closed the event stream")
                buf += chunk
                with lock:
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        if line.strip():
                            json.loads(line)  # only whole, valid events are written
                            out.write(line.decode() + "\n")
                    out.flush()
                    os.fsync(out.fileno())
        except Exception as e:
            failure.append(e)
        finally:
            ended.set()

    threading.Thread(target=pump, daemon=True).start()
    # Heartbeats only while the stream is open: once it ends, none until the next marker.
    while not ended.wait(HEARTBEAT):
        with lock:
            mark(out, "heartbeat")
            out.flush()
            os.fsync(out.fileno())
    conn.close()
    raise failure[0] if failure else RuntimeError("the event stream ended")


if __name__ == "__main__":
    os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
    with open(OUT, "a", encoding="utf-8") as out:
        while True:
            try:
                record(out)
            except Exception as e:  # a restarted engine: reconnect, with a new marker (a gap)
                print(json.dumps({"msg": "event stream lost, reconnecting", "error": str(e)}), flush=True)
                time.sleep(1)
