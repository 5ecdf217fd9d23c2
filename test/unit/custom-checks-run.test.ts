/**
 * The team's own checks run end to end without the lab: `runEngine` with the custom suite, which
 * starts Playwright Test on real check files, against three real SSH servers (ssh2's own, on
 * 127.0.0.1). One result per control and host, every command in its evidence, and each host's
 * checks in one worker: a host is logged into once per run, whatever the number of workers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { controlsOf, unregisterControls } from '../../core/controls.ts';
import { REPO_ROOT } from '../../core/paths.ts';
import { runEngine, type RunObserver } from '../../engine/run.ts';
import { evidence, readRecords, type Rec } from '../helpers/records.ts';
import { startSshServer, type TestSshServer } from '../helpers/ssh-server.ts';

// Check files import 'driftless/test' by the package's own name, so they live inside the package.
const dir = path.join(REPO_ROOT, 'driftless-output', `test-checks-run-${process.pid}`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-custom-run-'));
const servers: TestSshServer[] = [];
let records: Rec[];
let exitCode: number;

before(async () => {
  fs.mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= 3; i++)
    servers.push(
      await startSshServer({
        auth: 'accept',
        // `echo <word>` prints the word: all these checks ask of a host.
        session: (stream, command) => {
          stream.write(`${command.replace(/^echo /, '')}\n`);
          stream.exit(0);
          stream.end();
        },
      }),
    );
  for (const n of [1, 2, 3])
    fs.writeFileSync(
      path.join(dir, `c${n}.check.ts`),
      `import { control, expect, test } from 'driftless/test';
control({ id: 'ACME-RUN-${n}', title: 'check ${n}', category: 'Mutable host', proves: 'x', scope: 'host' });
test('echoes', async ({ host }) => {
  expect((await host.run('echo ok-${n}')).stdout.trim()).toBe('ok-${n}');
});
`,
    );
  const login = servers[0]!.target();
  const config = path.join(dir, 'driftless.config.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      version: 1,
      targets: [
        {
          name: 'static',
          provider: 'ssh',
          hosts: servers.map((s, i) => ({ id: `h${i + 1}`, address: '127.0.0.1', port: s.port, hostKey: s.target().pinned[0] })),
          // Every server accepts any key: one identity logs in to all three.
          ssh: { user: 'audit', identityFile: login.identityFile },
        },
      ],
      release: { services: { web: { digest: 'sha256:' + 'a'.repeat(64) } } },
      checks: ['*.check.ts'],
      policy: { ssh: { concurrency: 2 } },
    }),
  );
  const quiet: RunObserver = { started: () => {}, snapshot: () => {}, planned: () => {}, phase: () => {}, recorded: () => {} };
  const env = process.env.DRIFTLESS_OUTPUT_DIR;
  process.env.DRIFTLESS_OUTPUT_DIR = path.join(tmp, 'out');
  try {
    const out = await runEngine({ configFile: config, suites: ['custom'], shard: null, resultsDir: path.join(tmp, 'results') }, quiet);
    exitCode = out.verdict.exitCode;
    records = readRecords(out.resultsDir);
  } finally {
    if (env === undefined) delete process.env.DRIFTLESS_OUTPUT_DIR;
    else process.env.DRIFTLESS_OUTPUT_DIR = env;
  }
});

after(async () => {
  unregisterControls(controlsOf('custom').map((c) => c.id));
  await Promise.all(servers.map((s) => s.close()));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('one passing result per control and host, each with the command it ran and its output in its evidence', () => {
  assert.equal(exitCode, 0, records.map((r) => `${r.control} ${r.host}: ${r.outcome} ${r.message ?? ''}`).join('\n'));
  assert.deepEqual(records.map((r) => `${r.control} ${r.host} ${r.outcome}`).sort(), [
    'ACME-RUN-1 h1 passed',
    'ACME-RUN-1 h2 passed',
    'ACME-RUN-1 h3 passed',
    'ACME-RUN-2 h1 passed',
    'ACME-RUN-2 h2 passed',
    'ACME-RUN-2 h3 passed',
    'ACME-RUN-3 h1 passed',
    'ACME-RUN-3 h2 passed',
    'ACME-RUN-3 h3 passed',
  ]);
  for (const r of records) {
    const n = r.control.slice(-1);
    const commands = evidence<Array<{ host: string; command: string; exitCode: number; stdout: string; stderr: string; durationMs: number }>>(
      r,
      `commands: ${r.control} echoes · ${r.host}`,
    );
    assert.deepEqual(commands, [
      { host: r.host, command: `echo ok-${n}`, exitCode: 0, stdout: `ok-${n}\n`, stderr: '', durationMs: commands?.[0]?.durationMs },
    ]);
  }
});

test("each host's checks run in one worker: every host is logged into once, with two workers for three hosts", () => {
  assert.deepEqual(
    servers.map((s) => s.logins()),
    [1, 1, 1],
  );
});
