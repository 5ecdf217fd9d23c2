/**
 * The deploy judgement on outcomes shaped like a real watch: each check fails on the deploy that
 * violates it and passes on the one that does not, and what cannot be told is broken.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planDeploy } from '../../audits/deploy/deploy-plan.ts';
import { deploySuite } from '../../audits/deploy/deploy-suite.ts';
import { judge as judgeWith } from '../helpers/suite-run.ts';
import type { DeployOutcome, FleetWatch, Incarnation } from '../../audits/deploy/watch.ts';
import type { Config } from '../../core/config.ts';

const OLD = 'sha256:' + 'a'.repeat(64);
const NEW = 'sha256:' + 'b'.repeat(64);
const config = {
  version: 1,
  targets: [{ name: 'web', provider: 'docker', service: 'web', entrypoint: 'http://127.0.0.1:1', docker: { labels: { a: 'b' } } }],
  release: { services: { web: { digest: NEW } } },
  policy: { disabledControls: [] },
  chaos: { slo: { maxErrorRate: 0.01, p99Ms: 500, recoverySeconds: 30 }, load: { rate: 10, path: '/' }, stateProbe: { keys: 5 } },
  deploy: { command: ['true'], timeoutSeconds: 60, minHealthyShare: 0.6, sampleMs: 250 },
  source: { file: '/c', sha256: 'x' },
} as unknown as Config;
const host = (n: number, image = OLD, state = 'running'): Incarnation => ({ id: `web-${n}`, instanceId: `i${n}`, service: 'web', image: { id: image }, state });
const samples = (...running: number[]) => running.map((r, i) => ({ t: i * 250, running: r, old: 0, fresh: r }));

function outcome(f: Partial<FleetWatch>): DeployOutcome {
  return {
    mode: 'driven',
    from: '2026-01-01T00:00:00.000Z',
    to: '2026-01-01T00:00:10.000Z',
    release: config.release,
    fleets: [
      {
        fleet: 'web',
        provider: 'docker',
        service: 'web',
        before: [host(1), host(2), host(3)],
        after: [host(4, NEW), host(5, NEW), host(6, NEW)],
        desired: 3,
        samples: samples(3, 2, 3, 2, 3),
        changes: [],
        ...f,
      },
    ],
  };
}
const plan = planDeploy({ config, inventory: [] });
const judge = (o: DeployOutcome) => Object.fromEntries(judgeWith(deploySuite, o, plan.checks, config).map((r) => [r.check.split('/').pop(), r]));

describe('deploy judgement', () => {
  test('a rolling replace with nothing patched passes replace-only, new release, not patched and capacity', () => {
    const r = judge(outcome({}));
    for (const c of ['DL-DEP-001', 'DL-DEP-002', 'DL-DEP-003', 'DL-DEP-004']) assert.equal(r[c]!.status, 'passed', `${c}: ${r[c]!.message}`);
  });

  test('one instance kept through the deploy is not replaced; on the old image it is the wrong image', () => {
    const r = judge(outcome({ after: [host(1), host(5, NEW), host(6, NEW)] }));
    assert.equal(r['DL-DEP-001']!.violation, 'not-replaced-on-deploy');
    assert.match(r['DL-DEP-001']!.message!, /1 of 3 instances served before the deploy and still serve after it .*web-1/);
    assert.equal(r['DL-DEP-002']!.violation, 'wrong-image');
  });

  test('a new instance started a second time, or one copied into, is patched in place; its own first start is not', () => {
    const ok = judge(outcome({ changes: [{ instanceId: 'i4', time: '2026-01-01T00:00:02.000Z', action: 'start' }] }));
    assert.equal(ok['DL-DEP-003']!.status, 'passed');
    const twice = judge(
      outcome({
        changes: [
          { instanceId: 'i4', time: '2026-01-01T00:00:02.000Z', action: 'start' },
          { instanceId: 'i4', time: '2026-01-01T00:00:05.000Z', action: 'start' },
        ],
      }),
    );
    assert.equal(twice['DL-DEP-003']!.violation, 'patched-in-place');
    assert.match(twice['DL-DEP-003']!.message!, /web-4 started again/);
    const copied = judge(outcome({ changes: [{ instanceId: 'i5', time: '2026-01-01T00:00:03.000Z', action: 'extract-to-dir' }] }));
    assert.match(copied['DL-DEP-003']!.message!, /web-5 copied into/);
  });

  test('a dip between two samples is caught from the engine events, though every sample looked fine', () => {
    const r = judge(
      outcome({
        samples: samples(3, 3, 3),
        changes: [
          { instanceId: 'i1', time: '2026-01-01T00:00:01.000Z', action: 'die' },
          { instanceId: 'i2', time: '2026-01-01T00:00:01.050Z', action: 'die' },
          { instanceId: 'i4', time: '2026-01-01T00:00:01.100Z', action: 'start' },
          { instanceId: 'i5', time: '2026-01-01T00:00:01.150Z', action: 'start' },
        ],
      }),
    );
    assert.equal(r['DL-DEP-004']!.violation, 'capacity-dropped');
    assert.match(r['DL-DEP-004']!.message!, /capacity fell to 1 of 3 \(33%\) at 2026-01-01T00:00:01\.050Z between two samples/);
  });

  test('without a desired capacity, or without samples, capacity cannot be told: broken', () => {
    assert.equal(judge(outcome({ desired: undefined }))['DL-DEP-004']!.status, 'broken');
    assert.equal(judge(outcome({ samples: [] }))['DL-DEP-004']!.status, 'broken');
  });

  test('a failed or timed-out deploy command: every check broken with the reason', () => {
    const o = { ...outcome({}), notJudged: 'the deploy command failed (exit 4): a deploy that fails is not judged' };
    for (const r of judgeWith(deploySuite, o, plan.checks, config)) {
      assert.equal(r.status, 'broken');
      assert.match(r.message!, /exit 4/);
    }
  });

  test('no deploy command and no --before: the whole suite is not applicable, with the reason', () => {
    const c = { ...config, deploy: undefined } as unknown as Config;
    const p = planDeploy({ config: c, inventory: [] });
    assert.equal(p.checks.length, 0);
    assert.match(p.notApplicable[0]!.reason, /no deploy\.command in the config and no --before snapshot/);
  });
});
