/**
 * What comes up during a run is audited (issue #25 item 1): the plan owes the host checks of the
 * replacement of every planned kill and of every instance of a driven deploy, by slot; the chaos
 * and deploy outcomes tell which instance answers each slot, or why none does; the ssh-edits and
 * image-integrity judges judge them and the results are recorded under the planned ids, naming the
 * instance, its origin and what drifted from its predecessor's launch configuration; the engine
 * runs a follower with its leader only, after it, with the leader's outcome (followers.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChaosOutcome } from '../../audits/chaos/experiment.ts';
import type { DeployOutcome } from '../../audits/deploy/watch.ts';
import type { HostImageAudit } from '../../audits/image/image-gather.ts';
import { planImages } from '../../audits/image/image-plan.ts';
import { computePlan } from '../../audits/plan-run.ts';
import { replacementsSuite } from '../../audits/replacements/replacements-suite.ts';
import { SLOT_JUDGES, type SlotFacts, slotUnit } from '../../audits/replacements/slot-judges.ts';
import { newReleaseSlots, replacementSlots } from '../../audits/replacements/slots.ts';
import { DEPLOYED_SLOT, planNewRelease, planReplacements, replacementSlot, slotChecks } from '../../audits/replacements/slots-plan.ts';
import { planSshEdits } from '../../audits/ssh-edits/ssh-edits-plan.ts';
import type { SuiteModule } from '../../audits/suite.ts';
import { type EvidenceRef, recordCheck } from '../../core/check-record.ts';
import { Judgement } from '../../core/check-result.ts';
import type { Config } from '../../core/config.ts';
import type { FleetSnapshot, SnapshotHost } from '../../core/inventory.ts';
import { withFollowers } from '../../core/suites.ts';
import type { LaunchConfig } from '../../providers/provider.ts';
import { judge } from '../helpers/suite-run.ts';

const DIGEST = 'sha256:' + 'a'.repeat(64);
function config(over: Record<string, unknown> = {}): Config {
  return {
    version: 1,
    targets: [
      {
        name: 'cattle',
        provider: 'docker',
        service: 'web',
        entrypoint: 'http://127.0.0.1:1',
        docker: { labels: { a: 'b' } },
        ssh: { user: 'audit', identityFile: '/k' },
      },
      { name: 'quiet', provider: 'docker', service: 'web', docker: { labels: { a: 'c' } } },
    ],
    release: { name: 'r1', services: { web: { digest: DIGEST } } },
    policy: {
      ssh: { mode: 'read-only', immutablePaths: ['/etc', '/usr/bin'], writablePaths: ['/tmp', '/run'], aggressive: false, concurrency: 1 },
      manifest: { excludes: [], metadataOnly: [] },
      container: { nonRoot: false },
      disabledControls: [],
    },
    chaos: { kill: { count: 2 }, dryRun: false },
    safety: { optInLabel: 'x=y', maxKills: 3, allowedEnvironments: ['lab'] },
    deploy: { command: ['./deploy'], fleets: ['cattle'] },
    source: { file: '/c', sha256: 'b'.repeat(64) },
    ...over,
  } as unknown as Config;
}
const host = (id: string, over: Partial<SnapshotHost> = {}): SnapshotHost => ({
  id,
  instanceId: `c-${id}-0000000000000000`,
  fleet: 'cattle',
  provider: 'docker',
  service: 'web',
  image: { id: DIGEST },
  labels: {},
  chaosEligible: true,
  state: 'running',
  ...over,
});
const INVENTORY: FleetSnapshot[] = [
  { target: 'cattle', provider: 'docker', hosts: [host('dl-cattle-1'), host('dl-cattle-2'), host('dl-cattle-3')] },
  { target: 'quiet', provider: 'docker', hosts: [host('q-1', { fleet: 'quiet' })] },
];

describe('the plan owes the host checks of what comes up, by slot', () => {
  test('one slot per planned kill of each chaos fleet, each owing what ssh-edits and image-integrity owe a host of it', () => {
    const plan = planReplacements({ config: config(), inventory: INVENTORY });
    const slots = [...new Set(plan.checks.map((c) => `${c.fleet}/${c.host}`))];
    assert.deepEqual(slots, ['cattle/replacement-of-kill-1', 'cattle/replacement-of-kill-2'], 'count 2 on cattle; quiet has no entrypoint');
    const aHost = [...planSshEdits({ config: config(), inventory: INVENTORY }).checks, ...planImages({ config: config(), inventory: INVENTORY }).checks].filter(
      (c) => c.host === 'dl-cattle-1',
    );
    const kill1 = plan.checks.filter((c) => c.host === replacementSlot(1));
    assert.deepEqual(
      kill1.map((c) => `${c.control}${c.item ? `:${c.item}` : ''}`),
      aHost.map((c) => `${c.control}${c.item ? `:${c.item}` : ''}`),
    );
    assert.ok(kill1.every((c) => c.suite === 'replacements' && c.id === `cattle/replacement-of-kill-1/${c.control}${c.item ? `:${c.item}` : ''}`));
    assert.ok(kill1.some((c) => c.control === 'DL-IMG-017'));
    assert.ok(plan.notApplicable.some((n) => n.fleet === 'quiet' && n.suite === 'replacements' && /no entrypoint.*nothing replaces a victim/.test(n.reason)));
  });

  test('the number of kills: count or percent of the opted-in running hosts, within them and safety.maxKills', () => {
    const kills = (c: Config, inv = INVENTORY) => new Set(planReplacements({ config: c, inventory: inv }).checks.map((x) => x.host)).size;
    assert.equal(kills(config({ chaos: { kill: { count: 5 } } })), 3, 'no more than the eligible hosts');
    assert.equal(kills(config({ chaos: { kill: { count: 5 } }, safety: { maxKills: 2 } })), 2, 'no more than safety.maxKills');
    assert.equal(kills(config({ chaos: { kill: { percent: 67 } } })), 2, '67% of 3, rounded down');
    const none = planReplacements({ config: config({ chaos: { kill: { percent: 10 } } }), inventory: INVENTORY });
    assert.equal(none.checks.length, 0);
    assert.match(
      none.notApplicable.find((n) => n.fleet === 'cattle')!.reason,
      /chaos\.kill\.percent 10 of the 3 eligible hosts of fleet cattle rounds down to no kill/,
    );
    const idle = INVENTORY.map((s) => ({ ...s, hosts: s.hosts.map((h) => ({ ...h, chaosEligible: false })) }));
    assert.match(planReplacements({ config: config(), inventory: idle }).notApplicable[1]!.reason, /no host of fleet cattle is opted in to chaos/);
  });

  test('a driven deploy: one set per fleet it rolls out to; observed or no deploy: not applicable, with the reason', () => {
    const plan = planNewRelease({ config: config(), inventory: INVENTORY });
    assert.deepEqual([...new Set(plan.checks.map((c) => `${c.suite} ${c.fleet}/${c.host}`))], ['new-release cattle/deployed-instances']);
    assert.ok(plan.notApplicable.some((n) => n.fleet === 'quiet' && /not one of deploy\.fleets/.test(n.reason)));
    const observed = planNewRelease({ config: config(), inventory: INVENTORY, deployBefore: 'before.json' });
    assert.equal(observed.checks.length, 0);
    assert.match(observed.notApplicable[0]!.reason, /observed mode \(--before\): the instances after the deploy are this run's inventory/);
    assert.match(planNewRelease({ config: config({ deploy: undefined }), inventory: INVENTORY }).notApplicable[0]!.reason, /no deploy\.command/);
  });

  test('a policy that switches a control off leaves it out of every slot too, and says so', () => {
    const c = config({ policy: { ...config().policy, disabledControls: [{ control: 'DL-IMG-005', reason: 'no event log (OPS-1)' }] } });
    const plan = computePlan({ config: c, inventory: INVENTORY }, withFollowers(['chaos']));
    assert.ok(!plan.checks.some((x) => x.control === 'DL-IMG-005'));
    assert.ok(plan.notApplicable.some((n) => n.suite === 'replacements' && n.control === 'DL-IMG-005' && /OPS-1/.test(n.reason)));
  });
});

const CATTLE: LaunchConfig = {
  readonlyRootfs: true,
  privileged: false,
  capAdd: [],
  securityOpt: ['no-new-privileges'],
  user: '',
  mountDetails: [{ destination: '/tmp', source: 'tmpfs', type: 'tmpfs', rw: true }],
};
const chaosOutcome = (over: Partial<ChaosOutcome> = {}): ChaosOutcome => ({
  fleet: 'cattle',
  seed: 7,
  dryRun: false,
  eligible: ['dl-cattle-1', 'dl-cattle-2', 'dl-cattle-3'],
  victims: ['dl-cattle-2', 'dl-cattle-3'],
  timeline: [],
  aborted: false,
  recovered: true,
  replacements: [
    {
      host: 'dl-cattle-2',
      verdict: 'replaced',
      detail: 'dl-cattle-2 was replaced by a new instance',
      oldInstanceId: 'c-dl-cattle-2-0000000000000000',
      newInstanceId: 'feedface0002aaaaaaaa',
    },
  ],
  predecessors: { 'c-dl-cattle-2-0000000000000000': CATTLE },
  buckets: [],
  ...over,
});
const wanted = [
  { fleet: 'cattle', slot: replacementSlot(1) },
  { fleet: 'cattle', slot: replacementSlot(2) },
];
const replacement = host('dl-cattle-2', { instanceId: 'feedface0002aaaaaaaa' });
const NOW = new Map([['cattle', [host('dl-cattle-1'), replacement, host('dl-cattle-3', { instanceId: 'n-dl-cattle-3-2222222222222222' })]]]);

describe('which instance answers each slot', () => {
  test("a replaced victim: its replacement, named with its origin and its predecessor's launch configuration", () => {
    const [one] = replacementSlots(wanted.slice(0, 1), new Map([['cattle', chaosOutcome()]]), NOW);
    assert.deepEqual(one!.members, [
      { host: replacement, origin: 'replacement of dl-cattle-2 (kill 1 of fleet cattle)', predecessor: { name: 'dl-cattle-2', launch: CATTLE } },
    ]);
  });

  test('a kill that did not happen is not applicable, saying what stopped it; a victim never replaced is not run', () => {
    const abort = {
      t: new Date(),
      kind: 'abort' as const,
      message: 'stopped killing at once: error rate 60% > chaos.abortErrorRate 50%; 1 victim(s) spared: dl-cattle-3',
    };
    const [, two] = replacementSlots(wanted, new Map([['cattle', chaosOutcome({ timeline: [abort] })]]), NOW);
    assert.equal(two!.notApplicable, `kill 2 of fleet cattle did not happen: ${abort.message}`);
    const missing = chaosOutcome({
      replacements: [
        {
          host: 'dl-cattle-2',
          verdict: 'missing',
          detail: 'dl-cattle-2 is exited, and no new running instance took its place',
          oldInstanceId: 'c-dl-cattle-2',
        },
      ],
    });
    const [gone] = replacementSlots(wanted, new Map([['cattle', missing]]), NOW);
    assert.equal(gone!.notRun, 'dl-cattle-2 (kill 1 of fleet cattle) was never replaced: dl-cattle-2 is exited, and no new running instance took its place');
    assert.match(replacementSlots(wanted, new Map([['cattle', chaosOutcome({ dryRun: true })]]), NOW)[0]!.notApplicable!, /^chaos\.dryRun: nothing was killed/);
    assert.match(replacementSlots(wanted, undefined, NOW)[0]!.notRun!, /the chaos suite did not finish/);
    assert.match(
      replacementSlots(wanted, new Map([['cattle', { error: 'the chaos experiment on fleet cattle failed: boom' }]]), NOW)[0]!.notRun!,
      /boom; so the replacement of kill 1/,
    );
    const later = new Map([['cattle', [host('dl-cattle-2', { instanceId: 'feedface0002aaaaaaaa', state: 'exited' })]]]);
    assert.match(
      replacementSlots(wanted, new Map([['cattle', chaosOutcome()]]), later)[0]!.notRun!,
      /the instance that replaced dl-cattle-2 \(kill 1 of fleet cattle\), feedface0002, is exited/,
    );
  });

  test('restarted in place: the same instance is audited, named as such', () => {
    const o = chaosOutcome({
      replacements: [
        {
          host: 'dl-cattle-2',
          verdict: 'restarted-in-place',
          detail: 'restarted',
          oldInstanceId: 'c-dl-cattle-2-0000000000000000',
          newInstanceId: 'c-dl-cattle-2-0000000000000000',
        },
      ],
    });
    const [one] = replacementSlots(wanted, new Map([['cattle', o]]), new Map([['cattle', [host('dl-cattle-2')]]]));
    assert.equal(one!.members[0]!.origin, 'dl-cattle-2 restarted in place after kill 1 of fleet cattle');
  });

  test('a deployed set: every running instance, against the release re-read after the deploy; a failed deploy is not run', () => {
    const deploy = {
      mode: 'driven',
      from: '',
      to: '',
      release: { name: 'r2', services: { web: { digest: 'sha256:' + 'b'.repeat(64) } } },
      fleets: [
        {
          fleet: 'cattle',
          provider: 'docker',
          before: [{ id: 'dl-cattle-1', instanceId: 'old-1', image: {}, state: 'running' }],
          after: [],
          samples: [],
          launchBefore: { 'old-1': CATTLE },
        },
      ],
    } as unknown as DeployOutcome;
    const now = new Map([
      ['cattle', [host('dl-cattle-1', { instanceId: 'new-1' }), host('dl-cattle-9', { instanceId: 'new-9' }), host('dl-cattle-8', { state: 'exited' })]],
    ]);
    const [set] = newReleaseSlots([{ fleet: 'cattle', slot: DEPLOYED_SLOT }], deploy, now);
    assert.equal(set!.release!.name, 'r2');
    assert.deepEqual(
      set!.members.map((m) => [m.host.id, m.origin, m.predecessor?.name ?? null]),
      [
        ['dl-cattle-1', 'deployed by release r2', 'dl-cattle-1'],
        ['dl-cattle-9', 'deployed by release r2', null],
      ],
    );
    assert.match(
      newReleaseSlots([{ fleet: 'cattle', slot: DEPLOYED_SLOT }], { ...deploy, notJudged: 'the deploy command failed (exit 1)' }, now)[0]!.notRun!,
      /the deploy was not judged/,
    );
  });
});

/** The image facts the image-integrity gathering gives for a container launched with `launch`. */
const imageFacts = (h: SnapshotHost, launch: LaunchConfig): HostImageAudit => ({
  host: h.id,
  fleet: 'cattle',
  provider: 'docker',
  instanceId: h.instanceId,
  service: 'web',
  declared: { digest: DIGEST },
  image: { id: DIGEST },
  container: { created: '2026-01-01T00:00:00Z', startedAt: '2026-01-01T00:00:00Z', restartCount: 0, state: 'running', mounts: ['/tmp'], ...launch },
});

describe('judged by the audited suites, recorded under the planned ids', () => {
  const c = config();
  const checks = planReplacements({ config: c, inventory: INVENTORY }).checks;
  const drifted: LaunchConfig = { ...CATTLE, readonlyRootfs: false, securityOpt: [], capAdd: ['SYS_ADMIN'] };
  const slots = replacementSlots(wanted, new Map([['cattle', chaosOutcome()]]), NOW);
  const facts: SlotFacts = { slots, ssh: [], image: [imageFacts(replacement, drifted)] };
  const results = judge(replacementsSuite, facts, checks, c, INVENTORY);
  const of = (control: string, k = 1) => results.find((r) => r.check === `cattle/replacement-of-kill-${k}/${control}`)!;

  test('a replacement with a drifted launch configuration fails the controls it breaks, naming what drifted', () => {
    const ro = of('DL-IMG-003');
    assert.equal(ro.status, 'failed');
    assert.equal(ro.violation, 'writable-root');
    assert.equal(
      ro.message,
      "dl-cattle-2 runs with a writable root filesystem (HostConfig.ReadonlyRootfs is false); its launch configuration differs from dl-cattle-2's before: " +
        'read-only root: yes → no; capabilities added: none → SYS_ADMIN; security options: no-new-privileges → none',
    );
    assert.deepEqual(ro.parameters, { instance: 'dl-cattle-2 (feedface0002)', origin: 'replacement of dl-cattle-2 (kill 1 of fleet cattle)' });
    const ev = JSON.parse(ro.evidence.find((e) => e.name === 'launch configuration vs its predecessor')!.body) as { changes: unknown[]; predecessor: string };
    assert.equal(ev.predecessor, 'dl-cattle-2');
    assert.equal(ev.changes.length, 3);
    assert.equal(of('DL-IMG-011').status, 'failed');
    assert.equal(of('DL-IMG-013').status, 'failed');
    assert.equal(of('DL-IMG-010').status, 'passed', 'the same mounts');
    assert.equal(of('DL-IMG-001').status, 'passed', 'the right digest');
  });

  test("the ssh-edits checks are judged by ssh-edits' own judges: no SSH audit of the instance is broken, naming it", () => {
    const r = of('DL-SSH-060');
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /no SSH audit result for dl-cattle-2 in fleet cattle/);
  });

  test('a kill that did not happen: not applicable with the reason; recorded under the planned id with the instance and origin', () => {
    assert.equal(of('DL-IMG-003', 2).status, 'not-applicable');
    assert.match(of('DL-IMG-003', 2).message!, /kill 2 of fleet cattle did not happen: only 1 kills happened/);
    const sink = (a: { name: string; contentType: EvidenceRef['contentType']; body: string }): EvidenceRef => ({
      name: a.name,
      contentType: a.contentType,
      file: 'evidence/x',
      sha256: 'x',
      bytes: a.body.length,
    });
    const check = checks.find((x) => x.id === 'cattle/replacement-of-kill-1/DL-IMG-003')!;
    const rec = recordCheck(check, of('DL-IMG-003'), {
      runId: 'r',
      runStartedAt: new Date().toISOString(),
      waivers: [],
      secrets: [],
      store: sink,
      timing: { startedAt: '', finishedAt: '' },
    });
    assert.equal(rec.check, 'cattle/replacement-of-kill-1/DL-IMG-003');
    assert.equal(rec.suite, 'replacements');
    assert.equal(rec.host, 'replacement-of-kill-1');
    assert.equal(rec.category, 'Mutable host');
    assert.equal(rec.parameters.instance, 'dl-cattle-2 (feedface0002)');
    assert.equal(rec.parameters.host, 'replacement-of-kill-1');
  });

  test('a victim never replaced: every check of its slot broken, "not run", naming the check', () => {
    const missing = replacementSlots(
      wanted,
      new Map([['cattle', chaosOutcome({ replacements: [{ host: 'dl-cattle-2', verdict: 'missing', detail: 'gone', oldInstanceId: 'x' }] })]]),
      NOW,
    );
    const rs = judge(
      replacementsSuite,
      { slots: missing, ssh: [], image: [] },
      checks.filter((x) => x.host === replacementSlot(1)),
      c,
      INVENTORY,
    );
    assert.ok(rs.every((r) => r.status === 'broken'));
    assert.equal(
      rs.find((r) => r.check.endsWith('/DL-IMG-003'))!.message,
      'not run: dl-cattle-2 (kill 1 of fleet cattle) was never replaced: gone; so DL-IMG-003 (read-only root) did not run on it',
    );
  });

  test("a deployed set is the worst of its instances', each named; taint names the real instance", () => {
    const set = {
      fleet: 'cattle',
      slot: DEPLOYED_SLOT,
      kind: 'set' as const,
      members: [
        { host: host('dl-cattle-1', { instanceId: 'new-1' }), origin: 'deployed by release r2', predecessor: { name: 'dl-cattle-1', launch: CATTLE } },
        { host: host('dl-cattle-9', { instanceId: 'new-9' }), origin: 'deployed by release r2' },
      ],
      release: { name: 'r2', services: { web: { digest: DIGEST } } },
    };
    const setChecks = slotChecks(c, INVENTORY[0]!, DEPLOYED_SLOT, 'new-release').checks.filter((x) => x.control === 'DL-IMG-003');
    const f: SlotFacts = { slots: [set], ssh: [], image: [imageFacts(set.members[0]!.host, drifted), imageFacts(set.members[1]!.host, CATTLE)] };
    const [r] = judge({ ...replacementsSuite, name: 'new-release' } as SuiteModule, f, setChecks, c, INVENTORY);
    assert.equal(r!.status, 'failed');
    assert.match(
      r!.message!,
      /^1 of 2 instances of fleet cattle fail: dl-cattle-1: dl-cattle-1 runs with a writable root filesystem .*; its launch configuration differs from dl-cattle-1's before: read-only root: yes → no/,
    );
    assert.deepEqual(r!.parameters, { instances: 'dl-cattle-1 (new-1), dl-cattle-9 (new-9)', origin: 'deployed by release r2' });
    assert.ok(r!.evidence.some((e) => e.name === 'dl-cattle-9: container'));
    const away = slotUnit(f, { ...setChecks[0]!, host: 'elsewhere' }, new Judgement('x'));
    assert.ok('result' in away && away.result.status === 'broken', 'a check of no gathered slot is broken');
    assert.ok(Object.keys(SLOT_JUDGES).includes('DL-IMG-017'));
  });
});
