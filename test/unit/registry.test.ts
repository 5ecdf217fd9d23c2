/** The controls registry, the categories and the error classes hold together; the generated files are current. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { computePlan } from '../../audits/plan-run.ts';
import { CATEGORY_NAMES, VIOLATION_CATEGORY } from '../../core/categories.ts';
import type { Config } from '../../core/config.ts';
import { type Control, CONTROLS } from '../../core/controls.ts';
import { leaderOf, SUITES } from '../../core/suites.ts';
import { DriftlessError, ERROR_CLASSES, ExitCode } from '../../core/errors.ts';
import { REPO_ROOT } from '../../core/paths.ts';

test('control ids are unique, well formed, and each violation kind they name has a category', () => {
  const ids = CONTROLS.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const c of CONTROLS) {
    assert.match(c.id, /^DL-[A-Z]+-\d{3}$/);
    assert.ok(SUITES.includes(c.suite), `${c.id}: unknown suite ${c.suite}`);
    assert.ok(c.violations.length > 0, `${c.id} names no violation kind`);
    for (const v of c.violations) assert.ok(CATEGORY_NAMES.includes(VIOLATION_CATEGORY[v]), `${c.id}: ${v}`);
  }
});

test('every planned check names a registered control of its own suite', () => {
  const config = {
    targets: [
      { name: 'd', provider: 'docker', service: 's', entrypoint: 'http://127.0.0.1:1', docker: { labels: { a: 'b' } }, ssh: { user: 'u', identityFile: '/k' } },
      { name: 'e', provider: 'ec2', service: 's', ec2: { region: 'eu-west-1', address: 'private-ip' } },
    ],
    release: { services: { s: { digest: 'sha256:' + 'a'.repeat(64), ami: 'ami-12345678', manifest: '/m.json' } } },
    policy: {
      ssh: { mode: 'read-only', immutablePaths: ['/etc'], writablePaths: ['/tmp'], aggressive: true, concurrency: 1 },
      manifest: { excludes: [], metadataOnly: [] },
      container: { nonRoot: false },
      disabledControls: [],
    },
    planFiles: [{ name: 'plan.json', file: path.join(REPO_ROOT, 'test', 'fixtures', 'plan', 'aws-asg-template-no-refresh.json') }],
    chaos: { kill: { count: 2 } },
    safety: { maxKills: 3 },
    deploy: { command: ['true'], fleets: ['d'] },
  } as unknown as Config;
  const host = (id: string, provider: 'docker' | 'ec2') => ({
    id,
    instanceId: id,
    fleet: id,
    provider,
    image: {},
    labels: {},
    chaosEligible: true,
    state: 'running',
  });
  const plan = computePlan(
    {
      config,
      inventory: [
        { target: 'd', provider: 'docker', hosts: [host('h1', 'docker')] },
        { target: 'e', provider: 'ec2', hosts: [host('i-1', 'ec2')] },
      ],
    },
    SUITES,
  );
  const byId = new Map<string, Control>(CONTROLS.map((c) => [c.id, c]));
  for (const check of plan.checks) {
    const c = byId.get(check.control);
    assert.ok(c, `${check.id}: ${check.control} is not in the registry`);
    // A slot of a suite that follows another (a replacement, a deployed set) owes the host checks of the audited suites.
    if (leaderOf(check.suite)) assert.ok(['ssh-edits', 'image-integrity'].includes(c.suite), check.id);
    else assert.equal(c.suite, check.suite, check.id);
    assert.ok(!c.providers || !check.host || c.providers.includes(check.fleet === 'd' ? 'docker' : 'ec2'), `${check.id} on a provider the registry excludes`);
    // A resource-scoped control is owed per resource change, never per host; the others never per resource.
    assert.equal(c.scope === 'resource', check.resource !== undefined, `${check.id}: scope ${c.scope}`);
  }
  assert.ok(
    plan.checks.some((c) => c.suite === 'plan'),
    'the plan suite owes checks of the plan file',
  );
  assert.equal(new Set(plan.checks.map((c) => c.id)).size, plan.checks.length, 'check ids are unique');
  const slots = [...new Set(plan.checks.filter((c) => leaderOf(c.suite)).map((c) => `${c.suite} ${c.fleet}/${c.host}`))].sort();
  assert.deepEqual(slots, ['new-release d/deployed-instances', 'replacements d/replacement-of-kill-1'], 'one kill: one eligible host');
  // the ec2 fleet has no ssh section: said, not silent
  assert.ok(plan.notApplicable.some((n) => n.fleet === 'e' && n.suite === 'ssh-edits' && /no ssh section/.test(n.reason)));
});

test("the schemas' suite enums list every suite of the table, in its order", () => {
  for (const name of ['plan', 'results']) {
    const text = fs.readFileSync(path.join(REPO_ROOT, 'schemas', `${name}.schema.json`), 'utf8');
    const enums = [...text.matchAll(/"suites?": \{\s*(?:"type": "array",\s*"items": \{\s*)?"enum": (\[[^\]]*\])/g)].map((m) => JSON.parse(m[1]!) as string[]);
    assert.ok(enums.length >= 2, `${name}: its suite enums are found`);
    for (const e of enums) assert.deepEqual(e, [...SUITES], name);
  }
});

test('every error class has its own stable code, an exit code and a description', () => {
  const codes = ERROR_CLASSES.map((c) => c.code);
  assert.equal(new Set(codes).size, codes.length, `duplicate codes: ${codes.join(', ')}`);
  for (const C of ERROR_CLASSES) {
    assert.match(C.code, /^DL_[A-Z_]+$/);
    assert.ok((Object.values(ExitCode) as number[]).includes(C.exitCode), C.name);
    assert.ok(C.when.length > 10, `${C.name} has no description`);
  }
  const e = new (ERROR_CLASSES.find((c) => c.name === 'PortInUseError') as unknown as new (p: number, w: string, s: string) => DriftlessError)(1, 'x', 'y');
  assert.equal(e.code, 'DL_PORT_IN_USE');
  assert.equal(e.exitCode, ExitCode.Usage);
  assert.equal(e.name, 'PortInUseError');
});

test('the generated files are current, and a stale one is caught', () => {
  const gen = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'generate.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  const ok = gen(['--check']);
  assert.equal(ok.status, 0, ok.stderr);
  const file = path.join(REPO_ROOT, 'docs', 'controls.md');
  const before = fs.readFileSync(file, 'utf8');
  try {
    fs.writeFileSync(file, before.replace('DL-SSH-010', 'DL-SSH-011'));
    const stale = gen(['--check']);
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /docs\/controls\.md is stale: .*npm run generate/);
  } finally {
    fs.writeFileSync(file, before);
  }
});
