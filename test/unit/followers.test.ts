/**
 * A suite that follows another (core/suites.ts: replacements follows chaos, new-release follows
 * deploy) runs with its leader only, in the phase after it, with what the leader gathered; its
 * results are typed records under the planned slot ids, and the verdict counts them.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { replacementsSuite } from '../../audits/replacements/replacements-suite.ts';
import { replacementSlot, slotChecks } from '../../audits/replacements/slots-plan.ts';
import type { SuiteModule } from '../../audits/suite.ts';
import { SUITE_MODULES } from '../../audits/suites.ts';
import { UsageError } from '../../core/errors.ts';
import { readChecks } from '../../core/results-folder.ts';
import { plannedCheck } from '../../core/run-plan.ts';
import { runEngine, type RunObserver } from '../../engine/run.ts';

const DIGEST = 'sha256:' + 'a'.repeat(64);

describe('the engine runs a follower with its leader, after it, with its outcome', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-followers-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const key = path.join(tmp, 'id');
  fs.writeFileSync(key, 'not a key, never used\n', { mode: 0o600 });
  const file = path.join(tmp, 'config.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      targets: [
        {
          name: 'static',
          provider: 'ssh',
          hosts: [{ id: 'h1', address: '127.0.0.1', hostKey: 'SHA256:' + 'A'.repeat(43) }],
          ssh: { user: 'audit', identityFile: key },
        },
      ],
      release: { services: { web: { digest: DIGEST } } },
    }),
  );
  const quiet: RunObserver = { started: () => {}, snapshot: () => {}, planned: () => {}, phase: () => {}, recorded: () => {} };

  test('a follower alone is refused (exit 2), naming its leader', async () => {
    await assert.rejects(
      runEngine({ configFile: file, suites: ['replacements'], shard: null, resultsDir: path.join(tmp, 'refused') }, quiet),
      (err: unknown) =>
        err instanceof UsageError && /--suite replacements audits what the chaos suite brings up, and runs with it: select --suite chaos/.test(err.message),
    );
  });

  test('selected with chaos, it runs after it, reads what chaos gathered, and its results are typed records under the planned ids', async () => {
    const order: string[] = [];
    const outcome = new Map([['static', { error: 'the chaos experiment on fleet static failed: a fixture' }]]);
    const chaos: SuiteModule = {
      ...SUITE_MODULES.chaos,
      plan: () => ({ checks: [plannedCheck('DL-CHAOS-001', { fleet: 'static' })], notApplicable: [] }),
      gather: async () => {
        order.push('chaos');
        return outcome;
      },
    };
    const slot = replacementSlot(1);
    const follower: SuiteModule = {
      ...replacementsSuite,
      plan: ({ config: c, inventory }) => slotChecks(c, inventory[0]!, slot, 'replacements'),
      gather: async (run) => {
        order.push('replacements');
        assert.equal(run.earlier?.get('chaos'), outcome, "the chaos suite's facts");
        const { replacementSlots: slotsOf } = await import('../../audits/replacements/slots.ts');
        return { slots: slotsOf([{ fleet: 'static', slot }], run.earlier?.get('chaos') as never, new Map()), ssh: [], image: [] };
      },
    };
    const env = process.env.DRIFTLESS_OUTPUT_DIR;
    process.env.DRIFTLESS_OUTPUT_DIR = path.join(tmp, 'out');
    try {
      const out = await runEngine(
        {
          configFile: file,
          suites: ['chaos'],
          shard: null,
          resultsDir: path.join(tmp, 'results'),
          modules: { ...SUITE_MODULES, chaos, replacements: follower },
        },
        quiet,
      );
      assert.deepEqual(order, ['chaos', 'replacements']);
      const recs = readChecks(out.resultsDir).records.filter((r) => r.suite === 'replacements');
      assert.ok(recs.length > 0);
      assert.ok(
        recs.every(
          (r) =>
            r.host === slot &&
            r.outcome === 'broken' &&
            /^not run: the chaos experiment on fleet static failed: a fixture; so the replacement of kill 1/.test(r.message!),
        ),
      );
      assert.equal(out.verdict.exitCode, 3);
    } finally {
      if (env === undefined) delete process.env.DRIFTLESS_OUTPUT_DIR;
      else process.env.DRIFTLESS_OUTPUT_DIR = env;
    }
  });
});
