/**
 * The recorded engine event log (targets[].docker.eventLog): a container's history is complete
 * only if the log holds its creation and the recorder did not restart since; execs come out of it
 * whatever the engine's 256-event buffer still holds. Lines are real Docker event objects.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseEventLog, recordedHistory } from '../../probes/event-log.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-eventlog-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ID = 'c'.repeat(64);
const ev = (action: string, sec: number, id = ID, attrs: Record<string, string> = {}) =>
  JSON.stringify({
    status: action,
    id,
    from: 'img',
    Type: 'container',
    Action: action,
    Actor: { ID: id, Attributes: { name: 'web-1', ...attrs } },
    scope: 'local',
    time: sec,
    timeNano: sec * 1e9,
  });
const marker = (sec: number) => JSON.stringify({ driftless: 'recorder-start', interval: 5, time: sec, timeNano: sec * 1e9 });
const beat = (sec: number, interval = 5) => JSON.stringify({ driftless: 'heartbeat', interval, time: sec, timeNano: sec * 1e9 });
/** Heartbeats every `step` s from `from` to `to` (inclusive), as event-recorder.py writes them. */
const beats = (from: number, to: number, step = 5) => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => beat(from + i * step, step));
/** Merges lines by their time, as a recorder appends them. */
const byTime = (...lines: string[]) => lines.sort((a, b) => Number(JSON.parse(a).time) - Number(JSON.parse(b).time));
let n = 0;
function log(lines: string[]): string {
  const f = path.join(tmp, `events-${++n}.jsonl`);
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}
const ACTIONS = ['create', 'start', 'exec_create', 'exec_start'];

describe('recorded history of one container', () => {
  test('recorder started before the creation, no restart since: complete, with the exec found', () => {
    const f = log(
      byTime(
        marker(100),
        ...beats(105, 160),
        ev('create', 110),
        ev('start', 111),
        ev('exec_create: sh -c echo hi >> /etc/motd', 150, ID, { execID: 'e1' }),
        ev('create', 160, 'd'.repeat(64)),
      ),
    );
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, true, h.why);
    assert.deepEqual(
      h.events.map((e) => e.action.split(':')[0]),
      ['create', 'start', 'exec_create'],
    );
    assert.equal(h.events[2]!.command, 'sh -c echo hi >> /etc/motd');
    assert.equal(h.events[2]!.execId, 'e1');
  });

  test('a recorder restart after the creation is a gap: not complete, and it says when', () => {
    const f = log([marker(100), ev('create', 110), marker(200), ev('create', 210, 'd'.repeat(64))]);
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, false);
    assert.match(h.why!, /the event recorder restarted at 1970-01-01T00:03:20\.000Z, after the container was created/);
  });

  test('a log that starts after the creation does not hold it: not complete', () => {
    const f = log([marker(300), ev('start', 310)]);
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, false);
    assert.match(h.why!, /does not hold the container's creation \(it starts at 1970-01-01T00:05:00\.000Z\): start the recorder before the hosts are created/);
  });

  test('a torn last line (the recorder mid-write) is skipped, never trusted', () => {
    const f = log([marker(100), beat(105), ev('create', 110), beat(110), '{"status":"exec_cre']);
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, true);
    assert.equal(h.events.length, 1);
  });

  test('lines appended after a first look are read (only the new bytes), and found', () => {
    const f = log([marker(100), beat(105), ev('create', 110), beat(110)]);
    assert.equal(recordedHistory(f, ID, 110, ACTIONS).events.length, 1);
    fs.appendFileSync(f, [beat(115), ev('exec_create: sh -c id', 116, ID, { execID: 'e2' }), ''].join('\n'));
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.deepEqual(
      h.events.map((e) => e.execId),
      [undefined, 'e2'],
    );
    assert.equal(h.complete, true, h.why);
  });

  test('an unreadable line with records after it is damage: not complete, and it says so', () => {
    const f = log([marker(100), ev('create', 110), '{"status":"exec_cre', ev('start', 120)]);
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, false);
    assert.match(h.why!, /has 1 unreadable lines among its records: a damaged log proves nothing/);
  });
});

describe('heartbeats: the recorder proves it was recording all along', () => {
  test('heartbeats every 5 s from before the creation to the end of the log: complete', () => {
    const f = log(byTime(marker(100), ...beats(105, 300), ev('create', 110), ev('start', 111), ev('die', 290, 'd'.repeat(64))));
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, true, h.why);
  });

  test('stop the recorder, docker exec, start it again without a marker (docker events >> file, a frozen recorder): the gap between heartbeats is named', () => {
    // heartbeats until 130, nothing while the exec at 150 went unrecorded, heartbeats again from 165
    const f = log(byTime(marker(100), ...beats(105, 130), ...beats(165, 200), ev('create', 110), ev('start', 111)));
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, false);
    assert.match(
      h.why!,
      /has no heartbeat from 1970-01-01T00:02:10\.000Z to 1970-01-01T00:02:45\.000Z \(35 s, more than twice its 5 s interval\), after the container was created: events in that time may be missing/,
    );
  });

  test('a gap that spans the creation counts; one that ended before it does not', () => {
    const spans = log(byTime(marker(100), beat(105), ...beats(125, 150), ev('create', 110)));
    assert.match(recordedHistory(spans, ID, 110, ACTIONS).why ?? '', /no heartbeat from 1970-01-01T00:01:45\.000Z to 1970-01-01T00:02:05\.000Z/);
    const before = log(byTime(marker(100), beat(105), ...beats(125, 150), ev('create', 130)));
    assert.equal(recordedHistory(before, ID, 130, ACTIONS).complete, true);
  });

  test('heartbeats that stop while events are still appended (the recorder replaced by something else): the tail is a gap', () => {
    const f = log(byTime(marker(100), ...beats(105, 130), ev('create', 110), ev('create', 200, 'd'.repeat(64))));
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, false);
    assert.match(h.why!, /no heartbeat from 1970-01-01T00:02:10\.000Z to 1970-01-01T00:03:20\.000Z \(70 s/);
  });

  test('the allowed gap follows the interval the heartbeats state', () => {
    const f = log(byTime(marker(100), ...beats(130, 250, 30), ev('create', 140)));
    assert.equal(recordedHistory(f, ID, 140, ACTIONS).complete, true);
  });

  test('a log without heartbeats (a plain `docker events >> file`) is never complete, and says how to record one', () => {
    const f = log([ev('create', 110), ev('start', 111), ev('create', 300, 'd'.repeat(64))]);
    const h = recordedHistory(f, ID, 110, ACTIONS);
    assert.equal(h.complete, false);
    assert.match(h.why!, /has no heartbeats, so nothing shows it was recorded without a gap.*event-recorder\.py <file> \[socket\].*heartbeat every 5 s/);
  });
});

describe('reading the log as a stream', () => {
  test('a log larger than the chunk size, with lines and a multi-byte character split across chunks, parses exactly as one whole read', () => {
    const lines = [marker(100), ev('create', 110)];
    // Commands with multi-byte characters (é is 2 bytes, 🚀 is 4), so some chunk boundary falls inside one.
    for (let i = 0; i < 40; i++) lines.push(ev(`exec_create: sh -c echo ${'é'.repeat(i % 7)}🚀 ${i}`, 120 + i, ID, { execID: `e${i}` }));
    lines.push(ev('create', 200, 'd'.repeat(64)));
    const f = log(lines);
    fs.appendFileSync(f, '{"status":"exec_cre'); // and a last line the recorder is still writing
    const size = fs.statSync(f).size;
    const whole = parseEventLog(f, size + 1);
    for (const chunk of [1, 7, 64, 333, 4096]) {
      assert.ok(chunk < size);
      const { decoder: _d, ...streamed } = parseEventLog(f, chunk);
      const { decoder: _w, ...w } = whole;
      assert.deepEqual(streamed, w, `chunk ${chunk}`);
    }
    const execs = [...whole.byContainer.get(ID)!].filter((e) => e.action === 'exec_create');
    assert.equal(execs.length, 40);
    assert.equal(execs[13]!.event.command, `sh -c echo ${'é'.repeat(6)}🚀 13`);
    assert.equal(whole.partial, '{"status":"exec_cre');
  });
});
