/**
 * The config's plan section: a config that only gates plans needs no targets and no release (and
 * only then), the plan files are checked like every file a config names (readable, each once, no
 * fleet of the same name), the command line's files replace plan.files, and the built-in
 * defaults are validated like a file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { builtInConfig, ConfigError, loadConfig } from '../../config/load.ts';
import { BUILT_IN_CONFIG } from '../../core/config.ts';
import { config, DIGEST_A, opts, problems, tmp, useTempDirs, write } from '../helpers/config.ts';

useTempDirs();

const rel = (abs: string) => path.relative(process.cwd(), abs);
const plan = (name: string) => {
  const f = path.join(tmp.dir, name);
  fs.writeFileSync(f, '{"format_version":"1.2","resource_changes":[],"complete":true}');
  return f;
};

describe('a config that only gates plans', () => {
  test('needs no targets and no release; its plan files are made absolute and named by their path from the working directory', () => {
    plan('a.json');
    const c = loadConfig(write('version: 1\nplan:\n  files: [a.json]\n'), opts());
    assert.deepEqual(c.targets, []);
    assert.deepEqual(c.release, { services: {} });
    assert.deepEqual(c.planFiles, [{ name: rel(path.join(tmp.dir, 'a.json')), file: path.join(tmp.dir, 'a.json') }]);
    assert.deepEqual(c.plan, {
      files: ['a.json'],
      compute: [],
      allowedInPlaceAttributes: ['tags', 'tags_all', 'description'],
      stateful: [],
      acceptConditional: false,
    });
  });

  test('targets still need a release; a plan section beside targets is allowed', () => {
    plan('b.json');
    const f = write(config({ extra: 'plan:\n  files: [b.json]\n' }));
    assert.equal(loadConfig(f, opts()).planFiles.length, 1);
    const g = write(`version: 1\nplan: {}\ntargets:\n  - { name: web, provider: docker, docker: { labels: { a: b } } }\n`);
    assert.deepEqual(problems(g), [`${g}: /: missing key "release": a config with targets must say what they must run (release.services or release.file)`]);
  });

  test('a plan file that cannot be read, one named twice, and one named like a target: each named', () => {
    plan('c.json');
    const f = write(config({ extra: `plan:\n  files: [missing.json, c.json, ./c.json]\n` }));
    assert.deepEqual(problems(f), [
      `${f}: /plan/files/0: cannot read plan file missing.json: no such file (resolved to ${path.join(tmp.dir, 'missing.json')})`,
      `${f}: /plan/files/2: ./c.json is named twice (also /plan/files/1): each plan is gated once`,
    ]);
    // A plan file is a fleet named by its path from the working directory: a target may not have that name.
    plan('web');
    const g = write(config({ extra: `plan:\n  files: [web]\n` }));
    const cwd = process.cwd();
    process.chdir(tmp.dir);
    try {
      assert.deepEqual(problems(g), [
        `${g}: /plan/files/0: a target is also named "web": a plan file is a fleet of the verdict, named by its path; rename the target or move the file`,
      ]);
    } finally {
      process.chdir(cwd);
    }
  });

  test('a resource type must look like one', () => {
    const f = write('version: 1\nplan:\n  compute: [aws instance]\n');
    assert.deepEqual(problems(f), [
      `${f}: /plan/compute/0: must be a resource type such as google_compute_instance (Terraform) or AWS::ECS::Service (CloudFormation)`,
    ]);
  });
});

describe("the command line's plan files (driftless plan-check)", () => {
  test('replace plan.files, resolved against the working directory, and give a config without a plan section one', () => {
    const a = plan('d.json');
    const f = write(config({ extra: 'plan:\n  files: [no-such.json]\n  compute: [terraform_data]\n' }));
    const c = loadConfig(f, { ...opts(), planFiles: [rel(a)] });
    assert.deepEqual(c.planFiles, [{ name: rel(a), file: a }]);
    assert.deepEqual(c.plan?.compute, ['terraform_data']);
    const g = write(config());
    assert.equal(loadConfig(g, { ...opts(), planFiles: [a] }).planFiles[0]!.file, a);
  });

  test('one that cannot be read is named as given', () => {
    const f = write(config());
    assert.throws(
      () => loadConfig(f, { ...opts(), planFiles: ['nope.json'] }),
      (err: unknown) => err instanceof ConfigError && err.exitCode === 2 && /^nope\.json: cannot read plan file nope\.json: no such file/.test(err.message),
    );
  });

  test('without a config: the built-in defaults, validated like a file, named as such and hashed', () => {
    const a = plan('e.json');
    const c = builtInConfig([a], opts());
    assert.equal(c.source.file, BUILT_IN_CONFIG);
    assert.match(c.source.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(c.targets, []);
    assert.deepEqual(c.plan?.allowedInPlaceAttributes, ['tags', 'tags_all', 'description']);
    assert.equal(c.safety.maxKills, 1, 'every default filled in, as for a file');
    assert.throws(() => builtInConfig(['nope.json'], opts()), ConfigError);
  });
});

test('the release may be left out only without targets', () => {
  plan('f.json');
  const f = write(`version: 1\nplan:\n  files: [f.json]\nrelease:\n  services:\n    web: { digest: "${DIGEST_A}" }\n`);
  assert.deepEqual(Object.keys(loadConfig(f, opts()).release.services), ['web']);
});
