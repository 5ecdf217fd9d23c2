/**
 * The team's own checks, without a target: a control() declaration is validated (a DL- id is
 * refused), check files are loaded in-process to discover what they declare (a file that does not
 * load is named with its line), each declared control is owed per host or fleet, and a check's
 * test outcomes become its result (an expect that fails is a violation under the declared category;
 * a crash, a timeout, a skip or no test at all is broken). A worker's pooled SSH session (against
 * a real ssh2 server) idles quietly.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { lanes, type OwedCustomCheck, subjectOf, type TestOutcome } from '../../audits/custom/checks-run.ts';
import { loadCustomControls } from '../../audits/custom/custom-controls.ts';
import { judgeCustom } from '../../audits/custom/custom-outcome.ts';
import { planCustom } from '../../audits/custom/custom-suite.ts';
import { controlOf, declarationProblems } from '../../audits/custom/declare.ts';
import { parseListening, SessionPool } from '../../audits/custom/host-access.ts';
import { Judgement } from '../../core/check-result.ts';
import type { Config, Target } from '../../core/config.ts';
import { controlsOf, registerControls, unregisterControls } from '../../core/controls.ts';
import { ChecksLoadError } from '../../core/errors.ts';
import type { SnapshotHost } from '../../core/inventory.ts';
import { REPO_ROOT } from '../../core/paths.ts';
import { startSshServer } from '../helpers/ssh-server.ts';

// Check files import 'driftless/test' by the package's own name, so they must live inside the package.
const dir = path.join(REPO_ROOT, 'driftless-output', `test-checks-${process.pid}`);
fs.mkdirSync(dir, { recursive: true });
after(() => {
  unregisterControls(controlsOf('custom').map((c) => c.id));
  fs.rmSync(dir, { recursive: true, force: true });
});

const good = { id: 'ACME-001', title: 'no cron daemon runs', category: 'Mutable host', proves: 'a scheduler can change the host', scope: 'host' };

describe('control() declarations', () => {
  test('a valid declaration has no problems; each wrong field is named with the fix', () => {
    assert.deepEqual(declarationProblems(good), []);
    assert.match(declarationProblems({ ...good, id: 'DL-SSH-900' }).join('\n'), /DL- is driftless's own namespace; use your team's, e.g. "ACME-001"/);
    assert.match(declarationProblems({ ...good, id: 'acme 1' }).join('\n'), /use capitals, digits and dashes/);
    assert.match(declarationProblems({ ...good, scope: 'cluster' }).join('\n'), /scope: "host" .* or "fleet"/);
    assert.match(declarationProblems({ ...good, proves: '' }).join('\n'), /proves: required/);
    assert.match(declarationProblems({ ...good, colour: 'red' }).join('\n'), /unknown field "colour"/);
    assert.match(declarationProblems({ ...good, timeoutSeconds: 0 }).join('\n'), /timeoutSeconds: a number of seconds, more than 0 and at most 600/);
  });
});

function file(name: string, body: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, `import { control, expect, test } from 'driftless/test';\n${body}\n`);
  return f;
}
const configOf = (globs: string[], over: Partial<Config> = {}): Config =>
  ({
    checks: globs,
    source: { file: path.join(dir, 'driftless.config.json'), sha256: '0'.repeat(64) },
    policy: { disabledControls: [] },
    waiverList: [],
    targets: [],
    ...over,
  }) as unknown as Config;
const loadError = (re: RegExp) => (err: unknown) => err instanceof ChecksLoadError && err.exitCode === 2 && re.test(err.message);

describe('discovery: the check files are loaded before anything is planned', () => {
  test('what each file declares, with its tests; a control without a test is listed with none', async () => {
    file('a.check.ts', `control(${JSON.stringify(good)});\ntest('no cron', async () => { expect(1).toBe(1); });`);
    file('b.check.ts', `control(${JSON.stringify({ ...good, id: 'ACME-002', scope: 'fleet' })});`);
    const found = await loadCustomControls(configOf(['a.check.ts', 'b.check.ts']));
    assert.deepEqual(
      found.declared.map((f) => f.controls.map((c) => [c.declaration.id, c.tests])),
      [[['ACME-001', ['no cron']]], [['ACME-002', []]]],
    );
    assert.deepEqual(
      controlsOf('custom').map((c) => [c.id, c.scope, c.custom?.category]),
      [
        ['ACME-001', 'host', 'Mutable host'],
        ['ACME-002', 'fleet', 'Mutable host'],
      ],
    );
  });

  test('a syntax error: exit 2, naming the file and its line', async () => {
    file('broken.check.ts', `control(${JSON.stringify(good)});\n\ntest('x', async () => { const = 1; });`);
    await assert.rejects(loadCustomControls(configOf(['broken.check.ts'])), loadError(/check file .*broken\.check\.ts:4: /));
  });

  test('a failed import, a DL- id, a test before any control, one id in two files: each exit 2, named', async () => {
    file('import.check.ts', `import './nowhere.ts';\ncontrol(${JSON.stringify(good)});`);
    await assert.rejects(loadCustomControls(configOf(['import.check.ts'])), loadError(/import\.check\.ts.*nowhere\.ts/));
    file('dl.check.ts', `control(${JSON.stringify({ ...good, id: 'DL-SSH-900' })});`);
    await assert.rejects(loadCustomControls(configOf(['dl.check.ts'])), loadError(/dl\.check\.ts:2: .*DL- is driftless's own namespace/));
    file('order.check.ts', `test('x', async () => {});\ncontrol(${JSON.stringify(good)});`);
    await assert.rejects(loadCustomControls(configOf(['order.check.ts'])), loadError(/order\.check\.ts.*comes before any control\(\)/));
    file('twice.check.ts', `control(${JSON.stringify(good)});\ntest('x', async () => {});`);
    await assert.rejects(loadCustomControls(configOf(['a.check.ts', 'twice.check.ts'])), loadError(/control ACME-001 is already declared in/));
    await assert.rejects(loadCustomControls(configOf(['none-*.check.ts'])), loadError(/checks: no file matches none-\*\.check\.ts/));
  });

  test('a waiver or a switched-off control naming an id no file declares: exit 2, named', async () => {
    const cfg = configOf(['a.check.ts'], { policy: { disabledControls: [{ control: 'ACME-404', reason: 'not here yet' }] } } as Partial<Config>);
    await assert.rejects(loadCustomControls(cfg), loadError(/\/policy\/disabledControls\/0\/control: unknown control "ACME-404": no check file declares it/));
  });
});

describe('the plan of custom controls', () => {
  test('host scope per host, fleet scope per fleet, and the fleets glob', async () => {
    unregisterControls(controlsOf('custom').map((c) => c.id));
    registerControls([
      controlOf({ ...good, scope: 'host' } as never, '/x.check.ts'),
      controlOf({ ...good, id: 'ACME-002', scope: 'fleet', fleets: 'pay-*' } as never, '/x.check.ts'),
    ]);
    const host = (id: string, fleet: string) => ({
      id,
      instanceId: id,
      fleet,
      provider: 'ssh' as const,
      image: {},
      labels: {},
      chaosEligible: false,
      state: 'running',
    });
    const plan = planCustom({
      config: { targets: [{ name: 'web' }, { name: 'pay-eu' }], checks: ['x'] } as unknown as Config,
      inventory: [
        { target: 'web', provider: 'ssh', hosts: [host('w1', 'web'), host('w2', 'web')] },
        { target: 'pay-eu', provider: 'ssh', hosts: [host('p1', 'pay-eu')] },
      ],
    });
    assert.deepEqual(
      plan.checks.map((c) => c.id),
      ['web/w1/ACME-001', 'web/w2/ACME-001', 'pay-eu/p1/ACME-001', 'pay-eu/-/ACME-002'],
    );
  });
});

describe("a check's result, from its test outcomes", () => {
  const c = controlOf({ ...good, category: 'Payments hygiene' } as never, 'checks/cron.check.ts');
  const outcome = (over: Partial<TestOutcome>): TestOutcome => ({
    check: 'web/h1/ACME-001',
    title: 'ACME-001 no cron · h1',
    file: 'checks/cron.check.ts',
    status: 'passed',
    durationMs: 12,
    attachments: [{ name: 'commands', contentType: 'application/json', body: '[{"command":"cat /proc/1/comm"}]' }],
    ...over,
  });
  const judge = (os: TestOutcome[], tests = 1, notRun?: string) => judgeCustom(new Judgement('web/h1/ACME-001'), c, os, tests, notRun);

  test('passed; every command it ran is in its evidence', () => {
    const r = judge([outcome({})]);
    assert.equal(r.status, 'passed');
    assert.match(r.evidence.find((e) => e.name.startsWith('commands'))!.body, /cat \/proc\/1\/comm/);
  });

  test('an expect that did not hold: a violation under the declared category, with the assertion', () => {
    const r = judge([
      outcome({ status: 'failed', failure: 'expect', message: '\u001b[2mexpect(\u001b[22mreceived).not.toContain(expected)\n\nExpected value: "cron"' }),
    ]);
    assert.equal(r.status, 'failed');
    assert.equal(r.category, 'Payments hygiene');
    assert.equal(r.message, 'no cron daemon runs: expect(received).not.toContain(expected); Expected value: "cron" (test "ACME-001 no cron · h1")');
  });

  test('a crash, a timeout, a skip: broken, never a violation; no test, or no result: broken with the reason', () => {
    assert.match(
      judge([outcome({ status: 'failed', failure: 'crash', message: "TypeError: Cannot read properties of undefined (reading 'x')" })]).message!,
      /crashed \(not a finding about the host\): TypeError/,
    );
    const t = judge([outcome({ status: 'timedOut' })]);
    assert.equal(t.status, 'broken');
    assert.match(t.message!, /timed out after 30 s/);
    assert.match(judge([outcome({ status: 'skipped' })]).message!, /was skipped: a check owed by the plan must run/);
    assert.match(judge([], 0).message!, /control ACME-001 \(checks\/cron\.check\.ts\) declares no test\(\): nothing checks it/);
    assert.match(judge([], 1, 'Playwright reported: Error: boom').message!, /no test of ACME-001 ran here: Playwright reported: Error: boom/);
  });
});

test('listening sockets from /proc/net/tcp', () => {
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:5208 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0',
    '   1: 0100007F:9C40 0100007F:5208 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1',
  ].join('\n');
  assert.deepEqual(parseListening('tcp', tcp), [{ proto: 'tcp', address: '127.0.0.1', port: 21000 }]);
});

test("a pooled session stays quiet while idle: no keepalive every 5 s from each of a worker's sessions", { timeout: 15_000 }, async () => {
  // A worker keeps its session to a host for the whole run, idle between that host's checks:
  // pings every 5 s from every idle session cost more CPU than the checks (bench/README.md).
  const server = await startSshServer({ auth: 'accept' });
  const pool = new SessionPool();
  try {
    const login = server.target();
    const target = {
      name: 'static',
      provider: 'ssh',
      hosts: [{ id: 'h1', address: '127.0.0.1', port: server.port, hostKey: login.pinned[0] }],
      ssh: { user: 'audit', identityFile: login.identityFile },
    } as unknown as Target;
    const host = { id: 'h1', ssh: { host: '127.0.0.1', port: server.port }, identity: { kind: 'pinned-host-key' } } as unknown as SnapshotHost;
    const session = await pool.get(host, target);
    assert.equal(await pool.get(host, target), session, 'one session per worker and host');
    const before = server.bytesReceived();
    await new Promise((r) => setTimeout(r, 5_600));
    assert.equal(server.bytesReceived(), before, 'the idle pooled session sent something (a keepalive) within 5.6 s');
  } finally {
    await pool.closeAll();
    await server.close();
  }
});

test("hosts are dealt over the workers' lanes: each check's test title is run by exactly one lane", () => {
  const hosts = ['h1', 'h10', 'h2', 'web.1', 'web+1', 'a|b'];
  const owed: OwedCustomCheck[] = [
    ...hosts.flatMap((h) => ['ACME-1', 'ACME-2'].map((control) => ({ id: `${control}/${h}`, control, fleet: 'web', host: h }))),
    { id: 'ACME-F/web', control: 'ACME-F', fleet: 'web' },
  ];
  const ls = lanes({ owed, workers: 3 });
  assert.deepEqual(
    ls.map((l) => [l.name, l.workers, l.checks]),
    [
      ['hosts-1', 1, 5],
      ['hosts-2', 1, 4],
      ['hosts-3', 1, 4],
    ],
  );
  for (const c of owed)
    for (const title of [`file.check.ts ${c.control} a title · ${subjectOf(c)}`, `file.check.ts ${c.control} a title @smoke · ${subjectOf(c)} @smoke`])
      assert.equal(ls.filter((l) => l.grep.test(title)).length, 1, title);
  // Every check of a host is in its lane.
  assert.ok(ls[0]!.grep.test('x · h1') && !ls[0]!.grep.test('x · h10') && ls[1]!.grep.test('x · h10'));
  // Never more lanes than hosts.
  assert.equal(lanes({ owed: owed.slice(0, 2), workers: 8 }).length, 1);
});
