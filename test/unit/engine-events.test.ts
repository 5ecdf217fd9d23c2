/**
 * What the engine's events can prove. Coverage of a window: the engine keeps its last 256 events,
 * so it holds all of a window only if the oldest event it still holds is at or before the
 * window's start; how many events fall in the window says nothing (DL-DEP-003 once passed on
 * "fewer than 256 in the window" while the events after the window had pushed its start out).
 * Event shapes are the engine's own (Docker 20.10, `docker events --format '{{json .}}'`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bufferReachesBack } from '../../probes/engine-events.ts';

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
