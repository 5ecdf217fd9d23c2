/**
 * The team's own checks against the real lab, in one run over the cattle fleet: a passing check
 * (every command it ran in its evidence), a violation under its declared category, a waived one,
 * a switched-off one, a fleet-wide one, and the ways a check can fail to tell (it throws, it times
 * out, its control has no test): each broken, named, never passed. A check file that does not load
 * is exit 2 before anything is touched.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { REPO_ROOT } from '../../core/paths.ts';
import { labUp } from '../../lab/lab.ts';
import { LABELS, labDir } from '../../lab/lab-plan.ts';
import type { Verdict } from '../../reports/verdict.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';
import { evidence, readRecords, type Rec } from '../helpers/records.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-custom-'));
// Check files import 'driftless/test' by the package's name: they live inside the package.
const checks = path.join(REPO_ROOT, 'driftless-output', `int-checks-${process.pid}`);
const results = path.join(tmp, 'results');
let run: CliResult;
let records: Rec[];
let verdict: Verdict;

const FILES: Record<string, string> = {
  'pass.check.ts': `control({ id: 'ACME-T-PASS', title: 'the login user is audit', category: 'Mutable host', proves: 'x', scope: 'host' });
test('id -un says audit', async ({ host }) => {
  expect((await host.run('id -un')).stdout.trim()).toBe('audit');
  expect(await host.readFile('/etc/hostname')).toBeTruthy();
});`,
  'fail.check.ts': `control({ id: 'ACME-T-FAIL', title: 'an impossible rule', category: 'Team hygiene', proves: 'x', scope: 'host' });
test('never holds', async ({ host }) => {
  expect((await host.run('echo 1')).stdout.trim(), 'the echo').toBe('2');
});`,
  'waived.check.ts': `control({ id: 'ACME-T-WAIVED', title: 'a known exception', category: 'Drift', proves: 'x', scope: 'host' });
test('fails, accepted', async () => { expect(1).toBe(2); });`,
  'off.check.ts': `control({ id: 'ACME-T-OFF', title: 'switched off', category: 'Drift', proves: 'x', scope: 'host' });
test('would fail', async () => { expect(1).toBe(2); });`,
  'fleet.check.ts': `control({ id: 'ACME-T-FLEET', title: 'three hosts, each answering', category: 'Capacity dropped', proves: 'x', scope: 'fleet' });
test('every host answers', async ({ fleet }) => {
  expect(fleet.hosts.length).toBe(3);
  for (const h of fleet.hosts) expect((await fleet.host(h.id).run('true')).exitCode).toBe(0);
});`,
  'throw.check.ts': `control({ id: 'ACME-T-THROW', title: 'a check that crashes', category: 'Drift', proves: 'x', scope: 'host' });
test('throws', async () => { throw new Error('boom from the check'); });`,
  'slow.check.ts': `control({ id: 'ACME-T-SLOW', title: 'a check that hangs', category: 'Drift', proves: 'x', scope: 'host', timeoutSeconds: 2 });
test('never ends', async () => { await new Promise((r) => setTimeout(r, 30_000)); });`,
  'notest.check.ts': `control({ id: 'ACME-T-NOTEST', title: 'declared, never tested', category: 'Drift', proves: 'x', scope: 'host' });`,
};

function config(name: string, files: string): string {
  const lab = labDir();
  fs.writeFileSync(
    path.join(tmp, 'waivers.yaml'),
    'waivers:\n  - { control: ACME-T-WAIVED, reason: "accepted until the migration", approver: Ann, expires: 2099-01-01 }\n',
  );
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      checks: [files],
      targets: [
        {
          name: 'cattle',
          provider: 'docker',
          docker: { labels: { [LABELS.fleet]: 'cattle', [LABELS.role]: 'host' } },
          ssh: { user: 'audit', identityFile: path.join(lab, 'id_ed25519'), knownHostsFile: path.join(lab, 'known_hosts') },
        },
      ],
      release: { file: path.join(lab, 'release.json') },
      waivers: path.join(tmp, 'waivers.yaml'),
      policy: { disabledControls: [{ control: 'ACME-T-OFF', reason: 'switched off while it is rewritten' }] },
    }),
  );
  return file;
}

before(async () => {
  await labUp();
  fs.mkdirSync(checks, { recursive: true });
  for (const [f, body] of Object.entries(FILES)) fs.writeFileSync(path.join(checks, f), `import { control, expect, test } from 'driftless/test';\n${body}\n`);
  run = await driftless(['run', '--suite', 'custom', '--config', config('run', path.join(checks, '*.check.ts')), '--results-dir', results], {
    env: { DRIFTLESS_OUTPUT_DIR: path.join(tmp, 'out') },
    timeoutMs: 300_000,
  });
  records = readRecords(results);
  verdict = JSON.parse(fs.readFileSync(path.join(results, 'verdict.json'), 'utf8')) as Verdict;
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(checks, { recursive: true, force: true });
});

const of = (control: string) => records.filter((r) => r.control === control);

test('the run owes every declared control per host (or fleet), and ends with exit 1 (a violation)', () => {
  assert.equal(run.code, 1, run.stdout.slice(-3000) + run.stderr.slice(-2000));
  assert.match(run.stdout, /checks: 8 controls of your own from 8 files/);
  for (const c of ['ACME-T-PASS', 'ACME-T-FAIL', 'ACME-T-WAIVED', 'ACME-T-THROW', 'ACME-T-SLOW', 'ACME-T-NOTEST']) assert.equal(of(c).length, 3, c);
  assert.equal(of('ACME-T-FLEET').length, 1);
  assert.equal(of('ACME-T-OFF').length, 0, 'a switched-off control is not owed');
  assert.ok(verdict.notApplicable.some((n) => n.control === 'ACME-T-OFF' && /switched off by policy\.disabledControls/.test(n.reason)));
});

test('a passing check passes, with every command it ran (and its output) in its evidence', () => {
  for (const r of of('ACME-T-PASS')) {
    assert.equal(r.outcome, 'passed', r.message);
    const commands = evidence<Array<{ command: string; exitCode: number; stdout: string }>>(r, `commands: ACME-T-PASS id -un says audit · ${r.host}`)!;
    assert.deepEqual(
      commands.map((c) => c.command),
      ['id -un', "cat -- '/etc/hostname'"],
    );
    assert.equal(commands[0]!.stdout.trim(), 'audit');
  }
  assert.equal(of('ACME-T-FLEET')[0]!.outcome, 'passed', of('ACME-T-FLEET')[0]!.message);
});

test('an expect that does not hold is a violation, under the category the control declares', () => {
  for (const r of of('ACME-T-FAIL')) {
    assert.equal(r.outcome, 'failed');
    assert.equal(r.category, 'Team hygiene');
    assert.match(r.message!, /^an impossible rule: the echo; Expected: "2"; Received: "1" \(test "ACME-T-FAIL never holds · dl-cattle-\d"\)$/);
  }
  assert.equal(verdict.categories['Team hygiene'], 3);
});

test('a waiver covers a control of your own as it does a built-in one', () => {
  for (const r of of('ACME-T-WAIVED')) assert.equal(r.outcome, 'waived');
  assert.equal(verdict.waived.filter((w) => w.control === 'ACME-T-WAIVED').length, 3);
});

test('a check that throws, times out, or has no test is broken, named, never passed', () => {
  for (const r of of('ACME-T-THROW')) {
    assert.equal(r.outcome, 'broken');
    assert.match(r.message!, /crashed \(not a finding about the host\): Error: boom from the check/);
  }
  for (const r of of('ACME-T-SLOW')) {
    assert.equal(r.outcome, 'broken');
    assert.match(r.message!, /timed out after 2 s/);
  }
  for (const r of of('ACME-T-NOTEST')) assert.match(r.message!, /control ACME-T-NOTEST .* declares no test\(\): nothing checks it/);
});

test('a check file that does not load: exit 2 naming it, nothing run', async () => {
  fs.writeFileSync(path.join(checks, 'broken.bad.ts'), "import { control } from 'driftless/test';\ncontrol({ id: 'ACME-T-BAD', \n");
  const r = await driftless(['run', '--suite', 'custom', '--config', config('bad', path.join(checks, '*.bad.ts')), '--results-dir', path.join(tmp, 'bad')], {
    env: { DRIFTLESS_OUTPUT_DIR: path.join(tmp, 'out') },
  });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /check file .*broken\.bad\.ts:\d+: /);
  assert.ok(!fs.existsSync(path.join(tmp, 'bad', 'driftless-run.json')), 'no run began');
});
