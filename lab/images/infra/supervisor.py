#!/usr/bin/env python3
"""The lab's auto-scaling group: watches the Docker engine's events through its socket.

When a managed host dies:
  driftless.lab.on-death=replace  -> remove it, create a NEW container from the SAME pinned image
                                     id with the same settings (cattle)
  driftless.lab.on-death=restart  -> start the same container again, in place (snowflake)
  driftless.lab.on-death=none     -> nothing: it stays dead (a fleet that does not replace its dead)

Test-only settings (the negative control of the replacements suite; `lab up` sets neither):
  SUPERVISOR_MANAGED_LABEL  the label that names the policy (default driftless.lab.on-death), so a
                            test's own supervisor manages only the test's hosts
  SUPERVISOR_DRIFT          comma-separated: the replacement comes back from the same image with a
                            drifted launch configuration, as from an older template:
                            writable-root (no read-only root), new-privileges (no-new-privileges
                            dropped), cap-sys-admin (CAP_SYS_ADMIN added)
"""
import http.client, json, os, socket, sys, time, urllib.parse

SOCK = "/var/run/docker.sock"
MANAGED = os.environ.get("SUPERVISOR_MANAGED_LABEL") or "driftless.lab.on-death"
DRIFT = [d.strip() for d in os.environ.get("SUPERVISOR_DRIFT", "").split(",") if d.strip()]
KNOWN_DRIFT = {"writable-root", "new-privileges", "cap-sys-admin"}


class UnixConn(http.client.HTTPConnection):
    def __init__(self, timeout=30):
        super().__init__("localhost", timeout=timeout)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(SOCK)


def api(method, path, body=None):
    c = UnixConn()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 400:
        raise RuntimeError("%s %s -> %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data) if data else None


def log(msg, **kv):
    print(json.dumps(dict(msg=msg, t=time.time(), **kv)), flush=True)


def drifted(hc):
    """The host settings of a replacement under SUPERVISOR_DRIFT (unchanged without it)."""
    out = dict(hc)
    if "writable-root" in DRIFT:
        out["ReadonlyRootfs"] = False
    if "new-privileges" in DRIFT:
        out["SecurityOpt"] = [o for o in (hc.get("SecurityOpt") or []) if not o.startswith("no-new-privileges")]
    if "cap-sys-admin" in DRIFT:
        out["CapAdd"] = sorted(set((hc.get("CapAdd") or []) + ["SYS_ADMIN"]))
    return out


def replace(cid):
    info = api("GET", "/containers/%s/json" % cid)
    name = info["Name"].lstrip("/")
    cfg = info["Config"]
    hc = info["HostConfig"]
    image = cfg["Labels"].get("driftless.image.digest") or info["Image"]
    api("DELETE", "/containers/%s?force=1" % cid)
    body = {
        "Image": image,
        "Env": cfg.get("Env"),
        "Cmd": cfg.get("Cmd"),
        "Entrypoint": cfg.get("Entrypoint"),
        "Labels": cfg.get("Labels"),
        "Hostname": cfg.get("Hostname"),
        "StopSignal": cfg.get("StopSignal"),
        # everything that makes the host what it is, security settings included: a replacement
        # that lost no-new-privileges or gained nothing back would be a different host
        "HostConfig": drifted({k: hc.get(k) for k in ("NetworkMode", "ReadonlyRootfs", "Tmpfs", "Binds",
                                                      "RestartPolicy", "Init", "Memory", "SecurityOpt",
                                                      "CapAdd", "CapDrop", "Privileged")}),
    }
    new = api("POST", "/containers/create?name=%s" % urllib.parse.quote(name), body)
    api("POST", "/containers/%s/start" % new["Id"])
    log("replaced", name=name, old=cid, new=new["Id"], image=image, drift=DRIFT)


def restart(cid):
    api("POST", "/containers/%s/start" % cid)
    log("restarted in place", id=cid)


def handle(cid, policy):
    if policy not in ("replace", "restart"):
        return
    for attempt in range(5):
        try:
            (replace if policy == "replace" else restart)(cid)
            return
        except Exception as e:  # a busy engine: try again shortly
            log("retry", id=cid, error=str(e), attempt=attempt)
            time.sleep(0.5)


def reconcile():
    """On start: any managed host that died (exited, dead) gets its policy applied. A host just
    created and not yet started is left alone: whoever created it is about to start it."""
    flt = urllib.parse.quote(json.dumps({"label": [MANAGED]}))
    for c in api("GET", "/containers/json?all=1&filters=%s" % flt):
        if c["State"] in ("exited", "dead"):
            handle(c["Id"], c["Labels"][MANAGED])


def watch():
    flt = urllib.parse.quote(json.dumps({"type": ["container"], "event": ["die"], "label": [MANAGED]}))
    c = UnixConn(timeout=None)
    c.request("GET", "/events?filters=%s" % flt)
    r = c.getresponse()
    log("watching", status=r.status)
    reconcile()
    buf = b""
    while True:
        chunk = r.read1(65536) if hasattr(r, "read1") else r.read(1)
        if not chunk:
            raise RuntimeError("event stream closed")
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if not line.strip():
                continue
            ev = json.loads(line)
            attrs = ev.get("Actor", {}).get("Attributes", {})
            policy = attrs.get(MANAGED)
            log("die", id=ev.get("id"), name=attrs.get("name"), policy=policy, exitCode=attrs.get("exitCode"))
            if policy:
                handle(ev["id"], policy)


if __name__ == "__main__":
    unknown = set(DRIFT) - KNOWN_DRIFT
    if unknown:
        sys.exit("SUPERVISOR_DRIFT: unknown %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(sorted(KNOWN_DRIFT))))
    log("supervising", label=MANAGED, drift=DRIFT)
    while True:
        try:
            watch()
        except Exception as e:
            log("event stream lost, reconnecting", error=str(e))
            time.sleep(1)
