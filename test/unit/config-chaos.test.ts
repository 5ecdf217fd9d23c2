/**
 * The chaos load runs until the last kill's recovery is judged: a config that can never keep that
 * within an hour, or never put 10 measured requests per kill in the chaos window, is refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../config/load.ts';
import { config, opts, problems, useTempDirs, write } from '../helpers/config.ts';

useTempDirs();
const chaos = (yaml: string) => write(config({ extra: yaml }));

describe('the chaos load', () => {
  test('the shipped settings (15 s of load, 30 s recovery deadline) are accepted: the load is a minimum', () => {
    const f = chaos('chaos:\n  load: { rate: 50, durationSeconds: 15 }\n  slo: { recoverySeconds: 30 }');
    assert.equal(loadConfig(f, opts()).chaos.load.durationSeconds, 15);
  });

  test('a recovery deadline the load could not follow within an hour is refused, naming the field', () => {
    const f = chaos('chaos:\n  slo: { recoverySeconds: 4000 }');
    assert.deepEqual(problems(f), [
      `${f}: /chaos/slo/recoverySeconds: the chaos load runs until the last of 1 kill(s) has recovered: 1 s before the first kill + 0 × chaos.killIntervalSeconds 3 s + chaos.slo.recoverySeconds 4000 s = 4001 s, over the 3600 s a load may last; lower chaos.slo.recoverySeconds, chaos.killIntervalSeconds or the kills (chaos.kill.count, safety.maxKills)`,
    ]);
  });

  test('so are pauses between kills that add up past an hour (safety.maxKills caps the kills counted)', () => {
    const f = chaos('chaos:\n  kill: { count: 5 }\n  killIntervalSeconds: 1200\nsafety:\n  maxKills: 4');
    assert.deepEqual(problems(f), [
      `${f}: /chaos/killIntervalSeconds: the chaos load runs until the last of 4 kill(s) has recovered: 1 s before the first kill + 3 × chaos.killIntervalSeconds 1200 s + chaos.slo.recoverySeconds 30 s = 3631 s, over the 3600 s a load may last; lower chaos.slo.recoverySeconds, chaos.killIntervalSeconds or the kills (chaos.kill.count, safety.maxKills)`,
    ]);
    const under = chaos('chaos:\n  kill: { count: 5 }\n  killIntervalSeconds: 1200\nsafety:\n  maxKills: 3');
    assert.equal(loadConfig(under, opts()).chaos.killIntervalSeconds, 1200);
  });

  test('a rate that can never put 10 requests per kill in the chaos window is refused', () => {
    const f = chaos('chaos:\n  load: { rate: 0.2, durationSeconds: 15 }\n  slo: { recoverySeconds: 30 }');
    assert.deepEqual(problems(f), [
      `${f}: /chaos/load/rate: at 0.2 req/s the chaos window holds at most 6 requests (30 s from the first kill) for 1 kill(s): DL-CHAOS-004 needs 10 per kill (10); raise chaos.load.rate or chaos.load.durationSeconds`,
    ]);
    const three = chaos(
      'chaos:\n  kill: { count: 3 }\n  killIntervalSeconds: 0\n  load: { rate: 0.5, durationSeconds: 15 }\n  slo: { recoverySeconds: 30 }\nsafety:\n  maxKills: 3',
    );
    assert.match(problems(three)[0]!, /holds at most 15 requests \(30 s from the first kill\) for 3 kill\(s\): DL-CHAOS-004 needs 10 per kill \(30\)/);
    const enough = chaos('chaos:\n  load: { rate: 0.5, durationSeconds: 15 }\n  slo: { recoverySeconds: 30 }');
    assert.equal(loadConfig(enough, opts()).chaos.load.rate, 0.5);
  });
});
