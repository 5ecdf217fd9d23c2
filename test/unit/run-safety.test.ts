/**
 * Issue 24's rules the run engine holds, without a target: an empty or foreign output path is
 * refused before anything is touched (item 4); a sharded run never owns chaos or a deploy (item 2);
 * the run's deadline ends what did not finish as "not run" (item 17); an unlistable fleet stays
 * owed even when its control is switched off (item 8).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { computePlan } from '../../audits/plan-run.ts';
import type { SuiteModule } from '../../audits/suite.ts';
import { SUITE_MODULES } from '../../audits/suites.ts';
import { loadConfig } from '../../config/load.ts';
import { UsageError } from '../../core/errors.ts';
import { runEngine, type RunObserver } from '../../engine/run.ts';
import { driftless } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-safety-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const quiet: RunObserver = { started: () => {}, snapshot: () => {}, planned: () => {}, phase: () => {}, recorded: () => {} };
const key = path.join(tmp, 'id');
fs.writeFileSync(key, 'never used\n', { mode: 0o600 });

function configFile(name: string, extra: Record<string, unknown> = {}, targets?: unknown[]): string {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      targets: targets ?? [
        {
          name: 'static',
          provider: 'ssh',
          hosts: [{ id: 'h1', address: '127.0.0.1', port: 9, hostKey: 'SHA256:' + 'A'.repeat(43) }],
          ssh: { user: 'audit', identityFile: key, connectTimeoutMs: 1000 },
        },
      ],
      release: { services: { web: { digest: 'sha256:' + 'a'.repeat(64) } } },
      ...extra,
    }),
  );
  return file;
}

async function withOutput<T>(f: () => Promise<T>): Promise<T> {
  const env = process.env.DRIFTLESS_OUTPUT_DIR;
  process.env.DRIFTLESS_OUTPUT_DIR = path.join(tmp, 'out');
  try {
    return await f();
  } finally {
    if (env === undefined) delete process.env.DRIFTLESS_OUTPUT_DIR;
    else process.env.DRIFTLESS_OUTPUT_DIR = env;
  }
}

describe('driftless only empties folders it made (item 4)', () => {
  test('--results-dir "" (the current directory) is refused, and nothing is removed', async () => {
    const before = fs.readdirSync(process.cwd()).sort();
    await assert.rejects(
      withOutput(() => runEngine({ configFile: configFile('empty'), suites: ['ssh-edits'], shard: null, resultsDir: '' }, quiet)),
      (err: unknown) => err instanceof UsageError && /--results-dir "": an empty path names the current directory/.test(err.message),
    );
    assert.deepEqual(fs.readdirSync(process.cwd()).sort(), before);
  });

  test('a folder driftless did not make is refused, named, and left as it was', async () => {
    const mine = path.join(tmp, 'my-notes');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'keep.txt'), 'mine');
    await assert.rejects(
      withOutput(() => runEngine({ configFile: configFile('foreign'), suites: ['ssh-edits'], shard: null, resultsDir: mine }, quiet)),
      (err: unknown) => err instanceof UsageError && err.message.includes(mine) && /was not created by driftless/.test(err.message),
    );
    assert.equal(fs.readFileSync(path.join(mine, 'keep.txt'), 'utf8'), 'mine');
    const r = await driftless(['report', '--results', path.join(tmp, 'nothing'), '--out', mine], { env: { DRIFTLESS_OUTPUT_DIR: path.join(tmp, 'out') } });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--out: the report folder .*my-notes exists and was not created by driftless/);
    assert.equal(fs.readFileSync(path.join(mine, 'keep.txt'), 'utf8'), 'mine');
  });
});

describe('a sharded run never kills nor deploys (item 2)', () => {
  test('--shard with chaos is refused before anything is listed, naming the fix', async () => {
    const docker = [{ name: 'web', provider: 'docker', entrypoint: 'http://127.0.0.1:9', docker: { labels: { app: 'web' } }, service: 'web' }];
    const file = configFile('sharded', { safety: { allowedEnvironments: ['lab'] } }, docker);
    const results = path.join(tmp, 'results-sharded');
    await assert.rejects(
      withOutput(() =>
        runEngine(
          { configFile: file, suites: ['ssh-edits', 'image-integrity', 'chaos'], shard: { index: 1, total: 3 }, runId: 'r', resultsDir: results },
          quiet,
        ),
      ),
      (err: unknown) => err instanceof UsageError && /--shard 1\/3 with chaos: every shard would spend its own safety\.maxKills/.test(err.message),
    );
    assert.ok(!fs.existsSync(results), 'nothing was written');
  });
});

describe("the run's deadline (item 17)", () => {
  test('a suite that has not finished by run.deadlineMinutes: its checks are not run (exit 3), named, and the run ends', async () => {
    const stuck: SuiteModule = { ...SUITE_MODULES['ssh-edits'], gather: () => new Promise(() => {}) };
    const t0 = Date.now();
    const out = await withOutput(() =>
      runEngine(
        {
          configFile: configFile('deadline'),
          suites: ['ssh-edits'],
          shard: null,
          resultsDir: path.join(tmp, 'results-deadline'),
          modules: { ...SUITE_MODULES, 'ssh-edits': stuck },
          deadlineMs: 300,
        },
        quiet,
      ),
    );
    assert.ok(Date.now() - t0 < 5000, 'the run ended at its deadline');
    assert.equal(out.verdict.exitCode, 3);
    assert.ok(out.verdict.coverage.total.missing > 0);
    assert.equal(out.verdict.coverage.total.missing, out.verdict.coverage.total.owed);
    assert.match(out.verdict.incomplete.join('\n'), /the ssh-edits suite had not finished: the run's deadline passed \(run\.deadlineMinutes 120/);
  });
});

describe('fleet reachability is not a control a user can switch off (item 8)', () => {
  test('an unlistable fleet still owes its "can be listed" check when DL-SSH-001 and DL-IMG-001 are disabled', () => {
    const file = configFile('disabled', {
      policy: {
        disabledControls: [
          { control: 'DL-SSH-001', reason: 'logins are allowed here' },
          { control: 'DL-IMG-001', reason: 'no release file yet' },
        ],
      },
    });
    const config = loadConfig(file, { env: {} });
    const plan = computePlan({ config, inventory: [{ target: 'static', provider: 'ssh', hosts: [], error: 'connection refused' }] }, [
      'ssh-edits',
      'image-integrity',
    ]);
    assert.deepEqual(
      plan.checks.map((c) => c.id),
      ['static/-/DL-SSH-001:inventory', 'static/-/DL-IMG-001:inventory'],
    );
  });
});
