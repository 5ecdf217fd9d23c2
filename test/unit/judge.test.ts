/** Judgements that must not pass on what they could not see: state never written, unreadable files, empty fleets, a login nobody refused. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChaosOutcome } from '../../audits/chaos/experiment.ts';
import { chaosSuite } from '../../audits/chaos/chaos-suite.ts';
import { planChaos } from '../../audits/chaos/chaos-plan.ts';
import type { HostImageAudit } from '../../audits/image/image-gather.ts';
import { imageIntegritySuite } from '../../audits/image/image-suite.ts';
import { planImages } from '../../audits/image/image-plan.ts';
import { computePlan } from '../../audits/plan-run.ts';
import type { HostAudit } from '../../audits/ssh-edits/ssh-edits-gather.ts';
import { sshEditsSuite } from '../../audits/ssh-edits/ssh-edits-suite.ts';
import { planSshEdits } from '../../audits/ssh-edits/ssh-edits-plan.ts';
import type { Config } from '../../core/config.ts';
import type { FleetSnapshot } from '../../core/inventory.ts';
import { judge as judgeWith } from '../helpers/suite-run.ts';

const DIGEST = 'sha256:' + 'a'.repeat(64);
function config(over: Record<string, unknown> = {}): Config {
  return {
    version: 1,
    targets: [
      {
        name: 'web',
        provider: 'docker',
        service: 's',
        entrypoint: 'http://127.0.0.1:1',
        mayBeEmpty: false,
        docker: { labels: { a: 'b' } },
        ssh: { user: 'u', identityFile: '/k' },
      },
    ],
    release: { services: { s: { digest: DIGEST } } },
    policy: {
      ssh: { mode: 'read-only', immutablePaths: ['/etc'], writablePaths: ['/tmp'], aggressive: false, concurrency: 1 },
      manifest: { excludes: [], metadataOnly: [] },
      container: { nonRoot: false },
      disabledControls: [],
    },
    chaos: {
      kill: { count: 1 },
      killIntervalSeconds: 0,
      kinds: ['sigkill'],
      dryRun: false,
      load: { rate: 10, durationSeconds: 5, warmupSeconds: 1, path: '/' },
      stateProbe: { keys: 20 },
      slo: { maxErrorRate: 0.01, p99Ms: 500, recoverySeconds: 30 },
      abortErrorRate: 0.5,
    },
    safety: { optInLabel: 'x=y', maxKills: 1, allowedEnvironments: ['lab'], allowProduction: false },
    source: { file: '/c', sha256: 'b'.repeat(64) },
    ...over,
  } as unknown as Config;
}
const host = {
  id: 'h1',
  instanceId: 'i1',
  fleet: 'web',
  provider: 'docker' as const,
  image: { id: DIGEST },
  labels: {},
  chaosEligible: true,
  state: 'running',
};
const INVENTORY: FleetSnapshot[] = [{ target: 'web', provider: 'docker', hosts: [host] }];

describe('chaos state probe', () => {
  const outcome = (over: Partial<ChaosOutcome>): ChaosOutcome => ({
    fleet: 'web',
    seed: 1,
    dryRun: false,
    eligible: ['h1'],
    victims: ['h1'],
    timeline: [{ t: new Date(), kind: 'kill', host: 'h1', message: 'sigkill h1' }],
    aborted: false,
    recovered: true,
    replacements: [],
    buckets: [],
    state: { written: [], missing: [], changed: [], unreadable: [], reads: [], cleanup: { deleted: [], absent: [], failed: [] } },
    ...over,
  });
  const state = (o: ChaosOutcome) =>
    judgeWith(chaosSuite, new Map([['web', o]]), planChaos({ config: config(), inventory: [] }).checks, config()).find((r) =>
      r.check.endsWith('DL-CHAOS-001'),
    )!;

  test('every write failed (the app answered 405): broken, the failed writes listed, never "no state lost"', () => {
    const failed = Array.from({ length: 20 }, (_, i) => ({ key: `dl-k-${i}`, error: 'PUT answered 405' }));
    const r = state(outcome({ stateWrites: { asked: 20, written: 0, failed } }));
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /only 0 of 20 state keys could be written .*first failure: dl-k-0: PUT answered 405/);
    assert.deepEqual(JSON.parse(r.evidence.find((e) => e.name === 'state writes')!.body).failed.length, 20);
  });

  test('fewer written than asked: broken', () => {
    const written = Array.from({ length: 19 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    const r = state(
      outcome({
        stateWrites: { asked: 20, written: 19, failed: [{ key: 'k19', error: 'PUT failed: ECONNRESET' }] },
        state: { written, missing: [], changed: [], unreadable: [], reads: [], cleanup: { deleted: [], absent: [], failed: [] } },
      }),
    );
    assert.equal(r.status, 'broken');
  });

  test('all written and all read back: passed; a key lost: failed', () => {
    const written = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    assert.equal(
      state(
        outcome({
          stateWrites: { asked: 20, written: 20, failed: [] },
          state: { written, missing: [], changed: [], unreadable: [], reads: [], cleanup: { deleted: [], absent: [], failed: [] } },
        }),
      ).status,
      'passed',
    );
    const lost = state(
      outcome({
        stateWrites: { asked: 20, written: 20, failed: [] },
        state: { written, missing: ['k3'], changed: [], unreadable: [], reads: [], cleanup: { deleted: [], absent: [], failed: [] } },
      }),
    );
    assert.equal(lost.status, 'failed');
    assert.equal(lost.violation, 'state-lost');
  });

  test('state keys the probe could not delete afterwards are shown with the result', () => {
    const written = [{ key: 'k0', value: 'v' }];
    const r = state(
      outcome({
        stateWrites: { asked: 1, written: 1, failed: [] },
        state: {
          written,
          missing: [],
          changed: [],
          unreadable: [],
          reads: [],
          cleanup: { deleted: [], absent: [], failed: [{ key: 'k0', error: 'DELETE answered 405' }] },
        },
      }),
    );
    assert.equal(r.status, 'passed', 'what the harness left behind is not a finding about the fleet');
    assert.deepEqual(JSON.parse(r.evidence.find((e) => e.name === 'state keys left in the store (could not be deleted)')!.body), [
      { key: 'k0', error: 'DELETE answered 405' },
    ]);
  });

  test('no instance was killed: DL-CHAOS-001 is broken whatever the reads say, never "no state lost"', () => {
    const written = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    const allRead = { written, missing: [], changed: [], unreadable: [], reads: [], cleanup: { deleted: [], absent: [], failed: [] } };
    const writes = { asked: 20, written: 20, failed: [] };
    // DL-CHAOS-001 on its own must say it: with 002 and 003 switched off nothing else would.
    const aborted = state(
      outcome({
        timeline: [{ t: new Date(), kind: 'abort', message: 'stopped killing at once: error rate 80%' }],
        aborted: true,
        stateWrites: writes,
        state: allRead,
      }),
    );
    assert.equal(aborted.status, 'broken');
    assert.match(aborted.message!, /no instance was killed \(stopped killing at once: error rate 80%\)/);
    assert.ok(
      aborted.evidence.some((e) => e.name === 'state probe'),
      'the reads are still shown',
    );
    const failed = state(
      outcome({ timeline: [{ t: new Date(), kind: 'kill-failed', host: 'h1', message: 'could not sigkill h1: gone' }], stateWrites: writes, state: allRead }),
    );
    assert.equal(failed.status, 'broken');
    assert.match(failed.message!, /no instance was killed \(could not sigkill h1: gone\)/);
  });

  test('no instance was killed: recovery and SLO are broken, not passed or "slow"', () => {
    const o = outcome({ timeline: [{ t: new Date(), kind: 'kill-failed', host: 'h1', message: 'could not sigkill h1: gone' }], recovered: false });
    const rs = judgeWith(chaosSuite, new Map([['web', o]]), planChaos({ config: config(), inventory: [] }).checks, config());
    for (const id of ['DL-CHAOS-003', 'DL-CHAOS-004']) {
      const r = rs.find((x) => x.check.endsWith(id))!;
      assert.equal(r.status, 'broken', id);
      assert.match(r.message!, /no instance was killed \(could not sigkill h1: gone\)/);
    }
  });
});

describe('golden manifest: files the login user cannot read', () => {
  const audit = (couldNotRead: Array<{ path: string; side: 'actual' }>): HostImageAudit => ({
    host: 'h1',
    fleet: 'web',
    provider: 'docker',
    instanceId: 'i1',
    image: { id: DIGEST },
    manifest: {
      result: {
        expectedSource: `image:${DIGEST}`,
        expectedDigest: 'x',
        actualDigest: 'x',
        comparedExpectedDigest: 'x',
        comparedActualDigest: 'x',
        login: { user: 'audit', address: '127.0.0.1:22', hostKey: 'SHA256:x' },
        command: 'sh',
        durationMs: 1,
        entries: { expected: 1, actual: 1 },
        added: [],
        removed: [],
        changed: [],
        driftCount: 0,
        couldNotRead: couldNotRead.map((c) => ({ ...c, error: 'permission denied' })),
        unlisted: [],
        textDiffs: [],
      },
    },
  });
  const judge = (a: HostImageAudit, metadataOnly: string[] = []) => {
    const checks = planImages({ config: config(), inventory: INVENTORY }).checks.filter((c) => c.control === 'DL-IMG-006');
    return judgeWith(imageIntegritySuite, [a], checks, config({ policy: { ...config().policy, manifest: { metadataOnly } } }), INVENTORY)[0]!;
  };

  test('an unreadable file not named by the policy makes DL-IMG-006 broken, naming it and the fix', () => {
    const r = judge(
      audit([
        { path: '/etc/shadow', side: 'actual' },
        { path: '/etc/sudoers.d/README', side: 'actual' },
      ]),
    );
    assert.equal(r.status, 'broken');
    assert.match(
      r.message!,
      /2 files could not be read by the login user.*\/etc\/shadow, \/etc\/sudoers\.d\/README; list them in policy\.manifest\.metadataOnly/,
    );
  });

  test('named by policy.manifest.metadataOnly (a file, or a directory and all below): passed', () => {
    const r = judge(
      audit([
        { path: '/etc/shadow', side: 'actual' },
        { path: '/etc/sudoers.d/README', side: 'actual' },
      ]),
      ['/etc/shadow', '/etc/sudoers.d'],
    );
    assert.equal(r.status, 'passed');
  });

  test('a listed directory does not cover its look-alike sibling', () => {
    assert.equal(judge(audit([{ path: '/etc/sudoers.dx', side: 'actual' }]), ['/etc/sudoers.d']).status, 'broken');
  });
});

describe('SSH login under policy forbidden', () => {
  const login = (kind: string): HostAudit => ({
    host: 'h1',
    fleet: 'web',
    login: { ok: false, kind, message: `${kind} happened`, durationMs: 1 },
    edits: [],
    tainted: false,
  });
  const forbidden = config({ policy: { ...config().policy, ssh: { ...config().policy.ssh, mode: 'forbidden' } } });
  const judge = (a: HostAudit) => judgeWith(sshEditsSuite, [a], planSshEdits({ config: forbidden, inventory: INVENTORY }).checks, forbidden, INVENTORY)[0]!;

  test('a server that sends its banner and hangs up before key exchange proves nothing: broken', () => {
    const r = judge(login('closed-before-key-exchange'));
    assert.equal(r.status, 'broken');
  });

  test('no authentication method offered, or the connection ended during authentication: refused, passed', () => {
    assert.equal(judge(login('auth-refused')).status, 'passed');
    assert.equal(judge(login('closed')).status, 'passed');
  });

  test('our credentials rejected by a server that offers a method: broken, naming the methods, never passed', () => {
    const r = judge({ ...login('auth-denied'), login: { ...login('auth-denied').login, offeredMethods: ['publickey'] } });
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /our credentials were rejected by h1, which offers publickey: not proof that logins are refused/);
  });

  test('unreachable and timeouts are broken', () => {
    assert.equal(judge(login('unreachable')).status, 'broken');
    assert.equal(judge(login('timeout')).status, 'broken');
  });
});

describe('the plan: empty fleets, fleets without ssh, controls switched off', () => {
  const empty: FleetSnapshot[] = [{ target: 'web', provider: 'docker', hosts: [] }];

  test('an empty fleet owes a check that can only be broken', () => {
    const plan = computePlan({ config: config(), inventory: empty }, ['ssh-edits', 'image-integrity']);
    assert.deepEqual(
      plan.checks.map((c) => c.title),
      ['DL-SSH-001 fleet web has hosts to audit', 'DL-IMG-001 fleet web has hosts to audit'],
    );
    const r = judgeWith(
      imageIntegritySuite,
      [],
      plan.checks.filter((c) => c.suite === 'image-integrity'),
      config(),
      empty,
    )[0]!;
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /fleet web has no hosts.*set mayBeEmpty: true/);
  });

  test('with mayBeEmpty, the empty fleet is not applicable, with the reason', () => {
    const c = config();
    (c.targets[0] as { mayBeEmpty: boolean }).mayBeEmpty = true;
    const plan = computePlan({ config: c, inventory: empty }, ['image-integrity']);
    assert.equal(plan.checks.length, 0);
    assert.match(plan.notApplicable[0]!.reason, /has no hosts, and targets\[\]\.mayBeEmpty says it may be empty/);
  });

  test('a control switched off in the config leaves the plan with its reason', () => {
    const c = config({ policy: { ...config().policy, disabledControls: [{ control: 'DL-IMG-005', reason: 'engine events are not kept here (OPS-1)' }] } });
    const plan = computePlan({ config: c, inventory: INVENTORY }, ['image-integrity']);
    assert.ok(!plan.checks.some((x) => x.control === 'DL-IMG-005'));
    assert.deepEqual(
      plan.notApplicable.filter((n) => n.control === 'DL-IMG-005'),
      [
        {
          fleet: 'web',
          suite: 'image-integrity',
          control: 'DL-IMG-005',
          reason: 'switched off by policy.disabledControls: engine events are not kept here (OPS-1)',
        },
      ],
    );
  });
});

describe('the plan: an SSH fleet whose release declares no golden manifest', () => {
  test('owes no image check, and the plan says why instead of staying silent', () => {
    const c = config({
      targets: [
        {
          name: 'legacy',
          provider: 'ssh',
          service: 'old',
          mayBeEmpty: false,
          hosts: [{ id: 'vm-1', address: '127.0.0.1' }],
          ssh: { user: 'u', identityFile: '/k' },
        },
      ],
      release: { services: { old: { ami: 'ami-0123456789abcdef0' } } },
    });
    const inv: FleetSnapshot[] = [{ target: 'legacy', provider: 'ssh', hosts: [{ ...host, id: 'vm-1', fleet: 'legacy', provider: 'ssh' as never }] }];
    const plan = computePlan({ config: c, inventory: inv }, ['image-integrity']);
    assert.deepEqual(plan.checks, []);
    const reason =
      'the release declares no golden manifest for service old (release.services.<service>.manifest): nothing else proves the image of a host reached only over SSH, so no image check runs on it';
    assert.deepEqual(plan.notApplicable, [
      { fleet: 'legacy', suite: 'image-integrity', control: 'DL-IMG-006', reason },
      { fleet: 'legacy', suite: 'image-integrity', control: 'DL-IMG-017', reason },
    ]);
  });
});

describe('out-of-band access when the engine no longer holds the events since creation', () => {
  test('DL-IMG-005 is broken, naming the 256-event limit and the fix, never passed', () => {
    const checks = planImages({ config: config(), inventory: INVENTORY }).checks.filter((c) => c.control === 'DL-IMG-005');
    const a: HostImageAudit = {
      host: 'h1',
      fleet: 'web',
      provider: 'docker',
      instanceId: 'i1',
      image: { id: DIGEST },
      events: { since: '2026-12-01T00:00:00.000Z', until: '2026-12-01T01:00:00.000Z', complete: false, starts: [], execs: [] },
    } as unknown as HostImageAudit;
    const r = judgeWith(imageIntegritySuite, [a], checks, config(), INVENTORY)[0]!;
    assert.equal(r.status, 'broken');
    assert.match(r.message!, /Docker keeps only its last 256 events in memory/);
    assert.match(
      r.message!,
      /Fix: record the engine's events continuously .* name the file in targets\[\]\.docker\.eventLog, or switch DL-IMG-005 off with a reason in policy\.disabledControls/,
    );
  });
});
