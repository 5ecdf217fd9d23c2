/**
 * A control is defined once, in the registry, and judged by a judge keyed by its id. A suite's
 * judges table must name exactly its registry controls (a type error otherwise, shown with
 * @ts-expect-error, which `npm test`'s typecheck holds); every built-in suite has one judge per
 * control; and a control added to a suite with nothing but a registry entry and a judge is planned,
 * judged, recorded and counted by the whole engine.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { IMAGE_JUDGES } from '../../audits/image/image-judges.ts';
import { imageIntegritySuite } from '../../audits/image/image-suite.ts';
import type { Judge, Judges, SuiteModule } from '../../audits/suite.ts';
import { SUITE_MODULES } from '../../audits/suites.ts';
import { type CheckResult, Judgement } from '../../core/check-result.ts';
import { type Control, controlsOf, registerControls, unregisterControls } from '../../core/controls.ts';
import { readChecks } from '../../core/results-folder.ts';
import { leaderOf, SUITES } from '../../core/suites.ts';
import { runEngine, type RunObserver } from '../../engine/run.ts';

const judge: Judge<unknown> = (j) => j.pass();

// The registry holds four chaos controls: a table that leaves one out does not compile,
// @ts-expect-error DL-CHAOS-004 has no judge
const _missing: Judges<'chaos', unknown> = { 'DL-CHAOS-001': judge, 'DL-CHAOS-002': judge, 'DL-CHAOS-003': judge };
// ...and neither does a judge for a control the suite does not have.
const _extra: Judges<'chaos', unknown> = {
  'DL-CHAOS-001': judge,
  'DL-CHAOS-002': judge,
  'DL-CHAOS-003': judge,
  'DL-CHAOS-004': judge,
  // @ts-expect-error DL-CHAOS-005 is not a control of the registry
  'DL-CHAOS-005': judge,
};

describe('one judge per registry control', () => {
  test('every built-in suite has exactly one judge per control of its suite in the registry, and is in the suite table', () => {
    for (const name of SUITES) {
      const m = SUITE_MODULES[name];
      assert.equal(m.name, name);
      // A suite that follows another owes, per slot, what a host owes: the host checks of the audited suites.
      const owes = leaderOf(name) ? [...controlsOf('ssh-edits'), ...controlsOf('image-integrity')] : controlsOf(name);
      assert.deepEqual(Object.keys(m.judges).sort(), owes.map((c) => c.id).sort(), `${name}: judges and registry controls differ`);
    }
  });
});

describe('a control added with a registry entry and a judge, end to end', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-contract-'));
  after(() => {
    unregisterControls(['DL-IMG-901']);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('is planned per host, judged by its judge, recorded as a typed result and counted in the verdict', async () => {
    // Edit 1 of 2: the registry entry.
    const entry: Control = {
      id: 'DL-IMG-901',
      name: 'no leftover installer',
      title: 'the image carries no package installer cache',
      suite: 'image-integrity',
      family: 'Image integrity',
      scope: 'host',
      violations: ['filesystem-drift'],
      proves: 'the image was patched after it was built',
      providers: ['ssh'],
    };
    registerControls([entry]);
    // Edit 2 of 2: its judge, keyed by its id. (The fixture's facts stand in for probing two SSH hosts.)
    const facts = [
      { fleet: 'static', host: 'h1', leftovers: [] as string[] },
      { fleet: 'static', host: 'h2', leftovers: ['/var/cache/apt/archives/x.deb'] },
    ];
    type Facts = (typeof facts)[number];
    const fixture: SuiteModule = {
      ...imageIntegritySuite,
      gather: async () => facts,
      unitOf: (all, check, j) => {
        const f = (all as Facts[]).find((x) => x.host === check.host);
        return f ? { unit: f } : { result: j.broken(`no facts for ${check.host}`) };
      },
      judges: {
        ...IMAGE_JUDGES,
        'DL-IMG-901': (j: Judgement, f: unknown): CheckResult => {
          const { leftovers } = f as Facts;
          return leftovers.length ? j.fail('filesystem-drift', `installer cache left: ${leftovers.join(', ')}`) : j.pass();
        },
      } as SuiteModule['judges'],
    };
    const key = path.join(tmp, 'id');
    fs.writeFileSync(key, 'not a key, never used\n', { mode: 0o600 });
    const config = path.join(tmp, 'config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        version: 1,
        targets: [
          {
            name: 'static',
            provider: 'ssh',
            hosts: [
              { id: 'h1', address: '127.0.0.1', hostKey: 'SHA256:' + 'A'.repeat(43) },
              { id: 'h2', address: '127.0.0.1', hostKey: 'SHA256:' + 'A'.repeat(43) },
            ],
            ssh: { user: 'audit', identityFile: key },
          },
        ],
        release: { services: { web: { digest: 'sha256:' + 'a'.repeat(64) } } },
      }),
    );
    const quiet: RunObserver = { started: () => {}, snapshot: () => {}, planned: () => {}, phase: () => {}, recorded: () => {} };
    const env = process.env.DRIFTLESS_OUTPUT_DIR;
    process.env.DRIFTLESS_OUTPUT_DIR = path.join(tmp, 'out');
    try {
      const out = await runEngine(
        {
          configFile: config,
          suites: ['image-integrity'],
          shard: null,
          resultsDir: path.join(tmp, 'results'),
          modules: { ...SUITE_MODULES, 'image-integrity': fixture },
        },
        quiet,
      );
      const records = readChecks(out.resultsDir).records;
      assert.deepEqual(
        records.map((r) => [r.host, r.control, r.outcome]),
        [
          ['h1', 'DL-IMG-901', 'passed'],
          ['h2', 'DL-IMG-901', 'failed'],
        ],
      );
      assert.equal(records[1]!.title, 'DL-IMG-901 no leftover installer');
      assert.equal(records[1]!.category, 'Drift');
      assert.equal(out.verdict.exitCode, 1);
      assert.deepEqual(
        out.verdict.violations.map((v) => [v.control, v.host]),
        [['DL-IMG-901', 'h2']],
      );
    } finally {
      if (env === undefined) delete process.env.DRIFTLESS_OUTPUT_DIR;
      else process.env.DRIFTLESS_OUTPUT_DIR = env;
    }
  });
});
