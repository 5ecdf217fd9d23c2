/**
 * The bench's goals (bench/goals.ts) are judged from the figures of one result file: a figure past
 * its goal, an invalid row and a missing part are each "not met", never assumed met.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goalsOf } from '../../bench/goals.ts';
import type { BenchResults } from '../../bench/readme.ts';
import type { ReportStep } from '../../bench/report-bench.ts';
import type { ReportRun } from '../../bench/scale.ts';
import type { ShardedRun } from '../../bench/shards.ts';

const step = (what: string, o: Partial<ReportStep> = {}): ReportStep => ({
  what,
  command: 'driftless report',
  wallSeconds: 10.5,
  cpuSeconds: 16.2,
  peakTreeMiB: 596,
  exitCode: 0,
  singleFileMiB: 21.9,
  bytesPerCheck: 885,
  valid: true,
  ...o,
});
const peer = (concurrency: number, o: { cpuRatio?: number; speedup?: number; valid?: boolean } = {}) => ({
  scope: 'default',
  hosts: 100,
  concurrency,
  driftlessSeconds: 25.5,
  testinfraSeconds: 30.4,
  speedup: o.speedup ?? 1.19,
  driftlessCpuSeconds: 3.31,
  testinfraCpuSeconds: 10.77,
  cpuRatio: o.cpuRatio ?? 3.25,
  valid: o.valid ?? true,
});
const merge: ReportRun = { command: 'driftless report', results: 26000, wallSeconds: 18, cpuSeconds: 17, peakTreeMiB: 642, exitCode: 0, reportMiB: 72 };
const sharded = (total: number, valid = true): ShardedRun => ({ total, runId: 'r', shards: [], slowestShardSeconds: 100, shardCpuSeconds: 47, merge, valid });

function results(): BenchResults {
  return {
    command: 'npm run bench',
    startedAt: '2026-12-05T00:00:00Z',
    seconds: 1,
    machine: {} as BenchResults['machine'],
    allValid: true,
    report: {
      hosts: 1000,
      checks: 26000,
      notPassed: 15,
      resultsMiB: 126,
      generateSeconds: 1,
      allure2: '2.46.1',
      reports: [step('report, grouped'), step('report, per-check', { singleFileMiB: 195 })],
      generators: [
        step('Allure 2 2.46.1, grouped', { wallSeconds: 2.7 }),
        step('Allure 3 3.18.0 (awesome, singleFile), grouped', { wallSeconds: 1.8, singleFileMiB: 25.2 }),
      ],
      shards: [step('merge of 4 shards'), step('merge of 3 of 4 shards (shard 2 missing)'), step('merge of 9 of 10 shards (shard 5 missing)')],
    },
    peer: { driftless: [], testinfra: [], comparisons: [peer(8), peer(32, { cpuRatio: 5.37, speedup: 1.32 }), { ...peer(8), scope: 'etc', cpuRatio: 9 }] },
    large: { hosts: 1000, scope: { name: 'etc' }, golden: { files: 1, bytes: 1 }, shards: [sharded(4), sharded(10)] },
    custom: {
      hosts: 100,
      checks: 20,
      concurrency: 8,
      workers: 8,
      playwrightVersion: '1.65.1',
      goal: 1.5,
      harnessMsPerCheck: 18.1,
      ratioToEmptyTest: 1.47,
      empty: undefined,
      valid: true,
    },
  } as BenchResults;
}

const byGoal = (r: BenchResults) => new Map(goalsOf(r).map((g) => [g.goal, g]));
const find = (r: BenchResults, part: string) => {
  const hit = goalsOf(r).filter((g) => g.goal.includes(part));
  assert.equal(hit.length, 1, `one goal about "${part}": ${hit.map((g) => g.goal).join(' | ')}`);
  return hit[0]!;
};

test('a run whose figures are within every goal meets every goal, and says so with the figures', () => {
  const goals = goalsOf(results());
  assert.equal(goals.length, 12);
  assert.deepEqual(
    goals.filter((g) => !g.met),
    [],
  );
  assert.match(find(results(), 'c8: harness CPU').measured, /10\.8 \/ 3\.3 CPU s = 3\.25×/);
  assert.match(find(results(), 'Allure 3').measured, /not adopted \(faster, bigger\)/);
  assert.match(find(results(), 'single file').measured, /23\.0 MB/);
  assert.equal(byGoal(results()).size, 12);
});

test('a figure past its goal is not met', () => {
  const r = results();
  r.peer!.comparisons[1] = peer(32, { cpuRatio: 2.99 });
  r.report!.reports[0] = step('report, grouped', { singleFileMiB: 24 }); // 25.2 MB
  r.custom!.ratioToEmptyTest = 1.51;
  const notMet = goalsOf(r)
    .filter((g) => !g.met)
    .map((g) => g.goal);
  assert.equal(notMet.length, 3, notMet.join(' | '));
  assert.ok(notMet.some((g) => g.includes('c32: harness CPU')));
  assert.ok(notMet.some((g) => g.includes('single file')));
  assert.ok(notMet.some((g) => g.includes('custom check')));
});

test('an invalid row is not met even when its figure is within the goal', () => {
  const r = results();
  r.peer!.comparisons[0] = peer(8, { cpuRatio: 4, valid: false });
  r.large!.shards = [sharded(4, false), sharded(10)];
  r.report!.shards[1] = step('merge of 3 of 4 shards (shard 2 missing)', { valid: false, problem: 'the missing shard was not named' });
  const notMet = goalsOf(r).filter((g) => !g.met);
  assert.deepEqual(
    notMet.map((g) => g.goal),
    [
      'default scope, 100 hosts, c8: harness CPU, testinfra / driftless',
      'default scope, 100 hosts, c8: wall time, testinfra / driftless',
      'the 1000-host run as 4 shards, merged by `driftless report`',
      'a missing shard named by the merge at 1000 hosts',
    ],
  );
  assert.match(notMet[3]!.measured, /NOT named \(the missing shard was not named\)/);
});

test('a part that did not run, or ran smaller, is not measured and not met', () => {
  const r = results();
  delete r.large;
  delete r.custom;
  r.peer!.comparisons = r.peer!.comparisons.filter((c) => c.concurrency !== 32);
  r.report!.hosts = 50;
  const goals = goalsOf(r);
  assert.equal(goals.length, 12);
  const notMeasured = goals.filter((g) => g.measured === 'not measured');
  assert.ok(notMeasured.every((g) => !g.met));
  // the three report goals (50 hosts is not 1,000), c32 twice, two shard runs, the custom part
  assert.equal(notMeasured.length, 8, notMeasured.map((g) => g.goal).join(' | '));
  assert.equal(find(r, 'missing shard').met, false);
  assert.equal(find(r, 'Allure 3').met, true); // measured on the 50 hosts' results, decided
});

test('a ratio with a zero denominator (NaN, null once in JSON) is shown as — and is not met', () => {
  const r = results();
  r.peer!.comparisons[0] = { ...peer(8), cpuRatio: Number.NaN };
  const viaJson = JSON.parse(JSON.stringify(r)) as BenchResults; // NaN → null
  for (const x of [r, viaJson]) {
    const g = find(x, 'c8: harness CPU');
    assert.equal(g.met, false);
    assert.match(g.measured, /= —$/);
  }
});
