"""
The peer of driftless's golden-manifest check (DL-IMG-006), written as a testinfra user would:
one test per host, one remote command that hashes every regular file in the golden manifest's
scope, compared with the golden manifest (same file, same paths, same excludes, same login).
Run by bench/peer.ts with pytest-xdist; not part of `npm test`.
"""
import json
import os
import shlex

GOLDEN = json.load(open(os.environ["BENCH_GOLDEN_MANIFEST"], encoding="utf-8"))
EXPECTED = {e["path"]: e["sha256"] for e in GOLDEN["entries"] if e["type"] == "file" and "sha256" in e}


def _find(tail):
    starts = " ".join(shlex.quote(p) for p in GOLDEN["paths"])
    prune = " -o ".join(f"-path {shlex.quote(e)}" for e in GOLDEN["excludes"])
    pruned = f"\\( {prune} \\) -prune -o " if prune else ""
    return f"find {starts} -xdev {pruned}-type f {tail}"


# Unreadable files (e.g. /etc/shadow for an unprivileged login) are listed, not hashed: driftless
# reports them as "could not read" and does not count them as drift either.
HASH_COMMAND = (
    "LC_ALL=C; export LC_ALL; "
    + _find("-readable -print0")
    + " | xargs -0 -r sha256sum --zero; printf 'UNREADABLE\\0'; "
    + _find("! -readable -print0")
)


def test_files_match_golden_manifest(host):
    out = host.run(HASH_COMMAND)
    assert out.rc == 0, out.stderr
    hashed_part, unreadable_part = out.stdout_bytes.split(b"UNREADABLE\0", 1)
    actual = {}
    for item in hashed_part.split(b"\0"):
        if item:
            digest, path = item.decode("utf-8", "surrogateescape").split("  ", 1)
            actual[path] = digest
    unreadable = {p.decode("utf-8", "surrogateescape") for p in unreadable_part.split(b"\0") if p}
    missing = sorted(set(EXPECTED) - set(actual) - unreadable)
    added = sorted(set(actual) - set(EXPECTED))
    changed = sorted(p for p in actual if p in EXPECTED and actual[p] != EXPECTED[p])
    assert not (missing or added or changed), f"missing {missing[:5]} added {added[:5]} changed {changed[:5]}"
