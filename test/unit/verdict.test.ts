/**
 * Fail closed: the verdict is the plan against the results. Every way a run can end without
 * having checked what it owes ends in exit 3 with the reason, never in "compliant".
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PlannedCheck, RunPlan } from '../../core/run-plan.ts';
import { planHash } from '../../core/run-plan.ts';
import { type CheckRecord, recordCheck } from '../../core/check-record.ts';
import type { CheckResult } from '../../core/check-result.ts';
import type { Waiver } from '../../core/waivers.ts';
import { mergeRecords, type RecordRead, type RunRecord } from '../../reports/run-record.ts';
import { validateVerdict, verdictOf } from '../../reports/verdict.ts';

const check = (host: string, control = 'DL-SSH-010', item = 'canary:/etc'): PlannedCheck => ({
  id: `web/${host}/${control}:${item}`,
  control: control as PlannedCheck['control'],
  suite: 'ssh-edits',
  fleet: 'web',
  host,
  item,
  title: `${control} x`,
  story: 'x',
});
const PLAN: RunPlan = { suites: ['ssh-edits'], checks: [check('h1'), check('h2'), check('h3')], notApplicable: [] };

function record(over: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: 'r1',
    seed: 1,
    seedFrom: 'random',
    startedAt: '2026-11-23T00:00:00.000Z',
    harnessVersion: '0.1.0',
    config: { file: '/c.yaml', sha256: 'a'.repeat(64) },
    fleets: [{ name: 'web', provider: 'docker', hosts: 3 }],
    inventory: [],
    release: {},
    planHash: planHash(PLAN),
    plan: PLAN,
    shard: null,
    owed: PLAN.checks.map((c) => c.id),
    dryRun: false,
    inputs: { release: null, waivers: null },
    finished: { at: '2026-11-23T00:01:00.000Z', phases: [{ phase: 'audit', recorded: 'ok', audits: 'ok' }] },
    ...over,
  };
}

/** The typed result of a check that its judge found `status`, recorded as the engine records it. */
function result(
  c: PlannedCheck,
  status: CheckResult['status'],
  o: { violation?: CheckResult['violation']; message?: string; tainted?: boolean; waivers?: Waiver[] } = {},
  runId = 'r1',
): CheckRecord {
  const judged: CheckResult = {
    check: c.id,
    status,
    evidence: [],
    ...(o.violation ? { violation: o.violation } : {}),
    ...(o.message ? { message: o.message } : {}),
    ...(o.tainted ? { tainted: true } : {}),
  };
  const at = '2026-11-23T00:00:30.000Z';
  return recordCheck(c, judged, {
    runId,
    runStartedAt: '2026-11-23T00:00:00.000Z',
    waivers: o.waivers ?? [],
    secrets: [],
    store: () => {
      throw new Error('no evidence in these tests');
    },
    timing: { startedAt: at, finishedAt: at },
  });
}

const passedAll = () => PLAN.checks.map((c) => result(c, 'passed'));
const one = (r: RunRecord): RecordRead[] => [{ dir: '/results', record: r }];
const verdict = (results: CheckRecord[], reads: RecordRead[] = one(record()), whole = true) => {
  const v = verdictOf(results, mergeRecords(reads, whole));
  assert.deepEqual(validateVerdict(v), [], 'the verdict matches its schema');
  return v;
};

describe('the positive control', () => {
  test('every owed check passed: compliant, exit 0, full coverage', () => {
    const v = verdict(passedAll());
    assert.equal(v.verdict, 'compliant');
    assert.equal(v.exitCode, 0);
    assert.deepEqual(v.coverage.total, { owed: 3, passed: 3, failed: 0, broken: 0, waived: 0, notApplicable: 0, skipped: 0, missing: 0 });
    assert.equal(v.coverage.fleets[0]!.verdict, 'compliant');
    assert.equal(v.coverage.fleets[0]!.hosts.length, 3);
  });

  test('a violation is exit 1 even when something else broke', () => {
    const rs = passedAll();
    rs[0] = result(PLAN.checks[0]!, 'failed', { violation: 'mutable-host', message: 'ALLOWED' });
    rs[1] = result(PLAN.checks[1]!, 'broken', { message: 'unreachable' });
    const v = verdict(rs);
    assert.equal(v.exitCode, 1);
    assert.equal(v.categories['Mutable host'], 1);
  });
});

describe('what the plan owes and no result answers is never a pass', () => {
  test('an owed check without a result is "not run": exit 3, named', () => {
    const v = verdict(passedAll().slice(0, 2));
    assert.equal(v.verdict, 'not-fully-checked');
    assert.equal(v.exitCode, 3);
    assert.equal(v.coverage.total.missing, 1);
    assert.deepEqual(
      v.notRun.map((n) => [n.check, n.reason]),
      [[PLAN.checks[2]!.id, 'not run: no result answers this owed check']],
    );
    assert.equal(v.coverage.fleets[0]!.hosts.find((h) => h.host === 'h3')!.verdict, 'not-fully-checked');
  });

  test('no results at all (the runner found no tests): exit 3', () => {
    const v = verdict([], one(record({ finished: { at: 'x', phases: [{ phase: 'audit', recorded: 'ok', audits: 'ok' }] } })));
    assert.equal(v.exitCode, 3);
    assert.equal(v.coverage.total.missing, 3);
  });

  test('all results skipped: exit 3, each named with its reason', () => {
    const rs = PLAN.checks.map((c) => result(c, 'skipped', { message: 'dry run: nothing was killed' }));
    const v = verdict(rs);
    assert.equal(v.exitCode, 3);
    assert.equal(v.counts.skipped, 3);
    assert.match(v.notRun[0]!.reason, /^skipped: dry run/);
  });

  test('a broken check (the probe could not tell) is exit 3, its host named as not checked', () => {
    const rs = passedAll();
    rs[2] = result(PLAN.checks[2]!, 'broken', { message: 'h3 is unreachable (ECONNREFUSED)' });
    const v = verdict(rs);
    assert.equal(v.exitCode, 3);
    assert.equal(v.coverage.total.broken, 1);
    assert.equal(v.categories['Probe error'], 1);
    assert.deepEqual(v.uncheckedHosts, [{ host: 'h3', fleet: 'web', reason: 'h3 is unreachable (ECONNREFUSED)' }]);
  });

  test('a failed check that names no kind of violation is filed under "Other violation", not lost', () => {
    const rs = passedAll();
    rs[0] = result(PLAN.checks[0]!, 'failed', { message: 'something was wrong' });
    const v = verdict(rs);
    assert.equal(v.exitCode, 1);
    assert.equal(v.categories['Other violation'], 1);
  });

  test('typed results that could not be read are named and make the run exit 3', () => {
    const v = verdictOf(passedAll(), mergeRecords(one(record())), ['/r/checks/chaos.json does not match schemas/results.schema.json']);
    assert.equal(v.exitCode, 3);
    assert.match(v.incomplete.join('\n'), /chaos\.json does not match/);
  });

  test('a check proven not to apply (with its reason) does not stop compliance', () => {
    const rs = passedAll();
    rs[0] = result(PLAN.checks[0]!, 'not-applicable', { message: 'canary:/etc: not present on this host' });
    const v = verdict(rs);
    assert.equal(v.exitCode, 0);
    assert.equal(v.coverage.total.notApplicable, 1);
    assert.match(v.notApplicable.at(-1)!.reason, /not present on this host/);
  });

  test('a run that did not finish (crashed, interrupted) is exit 3', () => {
    const { finished: _f, ...unfinished } = record();
    const v = verdict(passedAll(), one(unfinished));
    assert.equal(v.exitCode, 3);
    assert.match(v.incomplete.join('\n'), /did not finish/);
  });

  test('a phase whose results were not all recorded is exit 3, with the reason', () => {
    const v = verdict(
      passedAll(),
      one(record({ finished: { at: 'x', phases: [{ phase: 'audit', recorded: 'could not write the ssh-edits results: ENOSPC', audits: 'ok' }] } })),
    );
    assert.equal(v.exitCode, 3);
    assert.match(v.incomplete.join('\n'), /the audit results were not all recorded: could not write the ssh-edits results: ENOSPC/);
  });

  test('a dry run is never compliant', () => {
    const v = verdict(passedAll(), one(record({ dryRun: true })));
    assert.equal(v.exitCode, 3);
    assert.match(v.incomplete.join('\n'), /dry run is never compliant/);
  });

  test('results of another run mixed in are named and make it exit 3', () => {
    const v = verdict([...passedAll(), result(PLAN.checks[0]!, 'passed', {}, 'r0')]);
    assert.equal(v.exitCode, 3);
    assert.match(v.incomplete.join('\n'), /results of different runs are mixed in/);
  });

  test('a plan that owes nothing is not "compliant"', () => {
    const empty: RunPlan = {
      suites: ['ssh-edits'],
      checks: [],
      notApplicable: [{ fleet: 'web', suite: 'ssh-edits', reason: 'target "web" has no ssh section: SSH controls not applicable' }],
    };
    const v = verdict([], one(record({ plan: empty, planHash: planHash(empty), owed: [] })));
    assert.equal(v.exitCode, 3);
    assert.match(v.notApplicable[0]!.reason, /no ssh section/);
    assert.equal(v.coverage.fleets[0]!.verdict, 'not-applicable');
  });
});

describe('shards', () => {
  const shard = (index: number, ids: string[], over: Partial<RunRecord> = {}): RecordRead => ({
    dir: `/s${index}`,
    record: record({ shard: { index, total: 3 }, owed: ids, ...over }),
  });
  const ids = PLAN.checks.map((c) => c.id);

  test('all three shards present: compliant', () => {
    const v = verdict(passedAll(), [shard(1, [ids[0]!]), shard(2, [ids[1]!]), shard(3, [ids[2]!])]);
    assert.equal(v.exitCode, 0, v.incomplete.join('\n'));
  });

  test('two of three shard folders missing: exit 3, each missing shard named, its checks not run', () => {
    const reads = mergeRecords([
      shard(1, [ids[0]!]),
      { dir: '/s2', problem: 'results folder /s2 does not exist' },
      { dir: '/s3', problem: 'results folder /s3 does not exist' },
    ]);
    const v = verdictOf([result(PLAN.checks[0]!, 'passed')], reads);
    assert.equal(v.exitCode, 3);
    const why = v.incomplete.join('\n');
    assert.match(why, /results folder \/s2 does not exist/);
    assert.match(why, /shard 2\/3 of run r1 is missing/);
    assert.match(why, /shard 3\/3 of run r1 is missing/);
    assert.equal(v.coverage.total.missing, 2);
  });

  test('a shard of another run, plan or config is refused', () => {
    const m = mergeRecords([shard(1, [ids[0]!]), shard(2, [ids[1]!], { runId: 'r2' }), shard(3, [ids[2]!], { planHash: 'sha256:' + 'b'.repeat(64) })]);
    const why = m.refused.join('\n');
    assert.match(why, /runs r1 and r2 both owe check .*shards of one run must all carry the same --run-id/);
    assert.match(why, /\/s3 owes a different plan than \/s1 for run r1/);
  });

  test('two complete runs (sharded audits, then chaos) merge into one verdict; another config is refused', () => {
    const chaosCheck: PlannedCheck = {
      id: 'web/-/DL-CHAOS-001',
      control: 'DL-CHAOS-001',
      suite: 'chaos',
      fleet: 'web',
      title: 'DL-CHAOS-001 x',
      story: 'x',
    };
    const chaosPlan: RunPlan = { suites: ['chaos'], checks: [chaosCheck], notApplicable: [] };
    const chaos = record({ runId: 'c1', plan: chaosPlan, planHash: planHash(chaosPlan), owed: [chaosCheck.id] });
    const reads: RecordRead[] = [shard(1, [ids[0]!]), shard(2, [ids[1]!]), shard(3, [ids[2]!]), { dir: '/chaos', record: chaos }];
    const v = verdict([...passedAll(), result(chaosCheck, 'passed', {}, 'c1')], reads);
    assert.equal(v.exitCode, 0, v.incomplete.join('\n'));
    assert.deepEqual(
      v.runs.map((r) => r.runId),
      ['r1', 'c1'],
    );
    assert.equal(v.coverage.total.owed, 4);
    const other = mergeRecords([...reads.slice(0, 3), { dir: '/chaos', record: { ...chaos, config: { file: '/other.yaml', sha256: 'f'.repeat(64) } } }]);
    assert.match(other.refused.join('\n'), /run c1 used another config .*runs of one report must share one config/);
  });

  test("a shard's own verdict covers only what it owes", () => {
    const v = verdict([result(PLAN.checks[0]!, 'passed')], [shard(1, [ids[0]!])], false);
    assert.equal(v.exitCode, 0);
    assert.equal(v.coverage.total.owed, 1);
  });
});

describe('waivers', () => {
  const waiver = (over: Partial<Waiver> = {}): Waiver => ({
    control: 'DL-SSH-010',
    host: 'h1',
    reason: 'legacy',
    approver: 'Ann',
    expires: '2099-01-01',
    ...over,
  });

  test('a waived check is shown as waived, never as passed, and does not block compliance', () => {
    const rs = passedAll();
    rs[0] = result(PLAN.checks[0]!, 'failed', { violation: 'mutable-host', message: 'ALLOWED on h1', waivers: [waiver()] });
    const v = verdict(rs);
    assert.equal(v.exitCode, 0);
    assert.equal(v.coverage.total.waived, 1);
    assert.equal(v.coverage.total.passed, 2);
    assert.match(v.waived[0]!.waiver, /^DL-SSH-010 on host h1, approved by Ann, until 2099-01-01: legacy \(the check itself: failed: ALLOWED on h1\)$/);
  });

  test('an expired waiver is a violation', () => {
    const rs = passedAll();
    rs[1] = result(PLAN.checks[1]!, 'passed', { waivers: [waiver({ host: 'h2', expires: '2020-01-01' })] });
    const v = verdict(rs);
    assert.equal(v.exitCode, 1);
    assert.equal(v.categories['Expired waiver'], 1);
  });

  test('a waiver never covers a check that could not tell, nor harm the run itself caused', () => {
    const rs = passedAll();
    const all = [waiver({ host: '*' })];
    rs[0] = result(PLAN.checks[0]!, 'broken', { message: 'h1 is unreachable', waivers: all });
    rs[1] = result(PLAN.checks[1]!, 'failed', { violation: 'mutable-host', message: 'ALLOWED on h2, TAINTED', tainted: true, waivers: all });
    const v = verdict(rs);
    assert.equal(v.exitCode, 1, 'the tainted violation stays a violation');
    assert.equal(v.coverage.total.waived, 0);
    assert.equal(v.coverage.total.broken, 1);
    assert.deepEqual(v.taintedHosts, ['h2']);
    assert.deepEqual(
      v.uncheckedHosts.map((h) => h.host),
      ['h1'],
    );
    assert.match(rs[0]!.message!, /a waiver cannot cover this \(a check that could not tell or did not run\)/);
    assert.equal(rs[1]!.waiver?.applied, false);
  });
});

describe('runs merged into one report are one nightly run (issue 24, item 23)', () => {
  const chaosCheck: PlannedCheck = { id: 'web/-/DL-CHAOS-001', control: 'DL-CHAOS-001', suite: 'chaos', fleet: 'web', title: 'DL-CHAOS-001 x', story: 'x' };
  const chaosPlan: RunPlan = { suites: ['chaos'], checks: [chaosCheck], notApplicable: [] };
  const chaos = (over: Partial<RunRecord>) => record({ runId: 'c1', plan: chaosPlan, planHash: planHash(chaosPlan), owed: [chaosCheck.id], ...over });

  test('another release file or waiver file: refused, naming both runs', () => {
    const m = mergeRecords([
      { dir: '/a', record: record() },
      { dir: '/c', record: chaos({ inputs: { release: 'f'.repeat(64), waivers: null } }) },
    ]);
    assert.match(m.refused.join('\n'), /run c1 used another release file .* than run r1 .*must judge the same release with the same waivers/);
    const w = mergeRecords([
      { dir: '/a', record: record() },
      { dir: '/c', record: chaos({ inputs: { release: null, waivers: 'e'.repeat(64) } }) },
    ]);
    assert.match(w.refused.join('\n'), /run c1 used another waiver file/);
  });

  test('started more than report.maxRunSpreadHours apart: refused; within it: merged', () => {
    const old = mergeRecords([
      { dir: '/a', record: record() },
      { dir: '/c', record: chaos({ startedAt: '2026-11-16T00:00:00.000Z' }) },
    ]);
    assert.match(old.refused.join('\n'), /run c1 started 168\.0 h apart from run r1 .*more than report\.maxRunSpreadHours 24/);
    const near = mergeRecords([
      { dir: '/a', record: record() },
      { dir: '/c', record: chaos({ startedAt: '2026-11-23T05:00:00.000Z' }) },
    ]);
    assert.deepEqual(near.refused, []);
    const wide = mergeRecords(
      [
        { dir: '/a', record: record() },
        { dir: '/c', record: chaos({ startedAt: '2026-11-16T00:00:00.000Z' }) },
      ],
      true,
      { maxRunSpreadHours: 200 },
    );
    assert.deepEqual(wide.refused, []);
  });
});

describe('a slot of what came up during the run (a replacement, a deployed set)', () => {
  test('a canary that got through on it names the real instances as tainted, not the slot', () => {
    const slot = { ...check('replacement-of-kill-1'), suite: 'replacements' as const, fleet: 'web' };
    const plan: RunPlan = { suites: ['chaos', 'replacements'], checks: [slot], notApplicable: [] };
    const judged: CheckResult = {
      check: slot.id,
      status: 'failed',
      violation: 'mutable-host',
      message: 'ALLOWED',
      tainted: true,
      parameters: { instance: 'dl-web-2 (abc)', 'tainted instances': 'dl-web-2' },
      evidence: [],
    };
    const at = '2026-11-23T00:00:30.000Z';
    const r = recordCheck(slot, judged, {
      runId: 'r1',
      runStartedAt: at,
      waivers: [],
      secrets: [],
      store: () => {
        throw new Error('no evidence');
      },
      timing: { startedAt: at, finishedAt: at },
    });
    const v = verdict([r], one(record({ plan, planHash: planHash(plan), owed: [slot.id] })));
    assert.deepEqual(v.taintedHosts, ['dl-web-2']);
    assert.deepEqual(
      v.violations.map((x) => [x.control, x.host]),
      [['DL-SSH-010', 'replacement-of-kill-1']],
    );
  });
});
