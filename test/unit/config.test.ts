/**
 * The config loader: every malformed config gets exactly the problems a user needs to fix it
 * (file, JSON pointer, plain words), all at once, and never a secret value.
 * Run: node --import tsx --test test/unit/config*.test.ts
 * This file: checks beyond the schema, secrets, valid configs, `driftless validate`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig, validateConfigText } from '../../config/load.ts';
import { CONTROLS } from '../../core/controls.ts';
import { REPO_ROOT } from '../../core/paths.ts';
import { config, DIGEST_A, DIGEST_B, ec2Target, opts, problems, SECRET, sshTarget, tmp, useTempDirs, write } from '../helpers/config.ts';

useTempDirs();

describe('checks beyond the schema', () => {
  test('a control switched off must exist, be listed once, and say why', () => {
    const off = (list: string) => write(config({ extra: `policy:\n  disabledControls:${list}` }));
    const unknown = off('\n    - { control: DL-IMG-099, reason: "no such control here" }');
    assert.deepEqual(problems(unknown), [
      `${unknown}: /policy/disabledControls/0/control: unknown control "DL-IMG-099": the controls are ${CONTROLS.map((c) => c.id).join(', ')} (docs/controls.md)`,
    ]);
    const twice = off('\n    - { control: DL-IMG-005, reason: "events are not kept" }\n    - { control: DL-IMG-005, reason: "events are not kept" }');
    assert.deepEqual(problems(twice), [
      `${twice}: /policy/disabledControls/1/control: control DL-IMG-005 is listed twice (also /policy/disabledControls/0/control)`,
    ]);
    const terse = off('\n    - { control: DL-IMG-005, reason: "no" }');
    assert.deepEqual(problems(terse), [`${terse}: /policy/disabledControls/0/reason: must say why (at least 10 characters): an auditor reads it`]);
  });

  test('a missing identity file, resolved against the config directory', () => {
    const f = write(
      config({
        targets: sshTarget('\n      user: audit\n      identityFile: keys/missing_key'),
        release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }',
      }),
    );
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh/identityFile: cannot read identity file keys/missing_key: no such file (resolved to ${path.join(tmp.dir, 'keys/missing_key')})`,
    ]);
  });

  test('a missing known_hosts file', () => {
    const f = write(
      config({
        targets: sshTarget('\n      user: audit\n      identityFile: keys/id_ed25519\n      knownHostsFile: keys/nope_hosts'),
        release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }',
      }),
    );
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh/knownHostsFile: cannot read known_hosts file keys/nope_hosts: no such file (resolved to ${path.join(tmp.dir, 'keys/nope_hosts')})`,
    ]);
  });

  test('a key file under the lab directory says how to create it', () => {
    const f = write(
      config({
        targets: sshTarget('\n      user: audit\n      identityFile: .driftless/lab/id_ed25519'),
        release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }',
      }),
    );
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh/identityFile: cannot read identity file .driftless/lab/id_ed25519: no such file ` +
        `(resolved to ${path.join(tmp.dir, '.driftless/lab/id_ed25519')}); run \`driftless lab up\` to create it`,
    ]);
  });

  test('passphraseEnv names a variable that is not set', () => {
    const f = write(
      config({
        targets: sshTarget('\n      user: audit\n      identityFile: keys/id_ed25519\n      passphraseEnv: LAB_KEY_PASSPHRASE'),
        release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }',
      }),
    );
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh/passphraseEnv: environment variable LAB_KEY_PASSPHRASE is not set: export it with the key's passphrase, or remove passphraseEnv if the key has none`,
    ]);
    assert.equal(loadConfig(f, opts({ LAB_KEY_PASSPHRASE: SECRET })).targets[0]!.ssh?.passphraseEnv, 'LAB_KEY_PASSPHRASE');
  });

  test('the agent needs SSH_AUTH_SOCK', () => {
    const f = write(config({ targets: sshTarget('\n      user: audit\n      agent: true'), release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }' }));
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh/agent: SSH_AUTH_SOCK is not set: start an agent (eval "$(ssh-agent)"; ssh-add <key>), or set identityFile`,
    ]);
  });

  test('ec2 with no AWS credentials anywhere (process environment controlled and restored)', () => {
    const f = write(config({ targets: ec2Target('\n      region: eu-west-1'), release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }' }));
    const names = [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_PROFILE',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
      'AWS_SHARED_CREDENTIALS_FILE',
      'HOME',
    ];
    const saved = Object.fromEntries(names.map((k) => [k, process.env[k]]));
    try {
      for (const k of names) delete process.env[k];
      process.env.HOME = tmp.home; // no ~/.aws/credentials there
      assert.deepEqual(problems(f, {}), [
        `${f}: /targets/0/ec2/credentials: no AWS credentials available: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or name env vars in credentials`,
      ]);
      process.env.AWS_PROFILE = 'audit';
      assert.equal(loadConfig(f).targets[0]!.provider, 'ec2');
    } finally {
      for (const k of names) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  test('ec2 credentials from ~/.aws/credentials count', () => {
    const f = write(config({ targets: ec2Target('\n      region: eu-west-1'), release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }' }));
    const h = fs.mkdtempSync(path.join(tmp.dir, 'home-'));
    fs.mkdirSync(path.join(h, '.aws'));
    fs.writeFileSync(path.join(h, '.aws', 'credentials'), '[default]\n');
    assert.equal(loadConfig(f, { env: {}, homeDir: h }).targets.length, 1);
  });

  test('named credential variables must be set', () => {
    const f = write(
      config({
        targets: ec2Target('\n      region: eu-west-1\n      credentials: { accessKeyIdEnv: STAGING_KEY_ID, secretAccessKeyEnv: STAGING_SECRET }'),
        release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }',
      }),
    );
    assert.deepEqual(problems(f, opts({ STAGING_KEY_ID: 'AKIAEXAMPLE' })), [
      `${f}: /targets/0/ec2/credentials/secretAccessKeyEnv: environment variable STAGING_SECRET is not set`,
    ]);
  });

  test('duplicate target names', () => {
    const t = '\n  - name: web\n    provider: docker\n    docker: { labels: { a: b } }';
    const f = write(config({ targets: t + t }));
    assert.deepEqual(problems(f), [`${f}: /targets/1/name: duplicate target name "web" (also /targets/0/name): target names must be unique`]);
  });

  test('a target service that is not in the release', () => {
    const f = write(config({ release: `\n  services:\n    api: { digest: "${DIGEST_A}" }\n    db: { digest: "${DIGEST_B}" }` }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/service: service "web" is not in the release (release services: api, db)`]);
  });

  test('a missing release file', () => {
    const f = write(config({ release: '\n  file: out/release.json' }));
    assert.deepEqual(problems(f), [
      `${f}: /release/file: cannot read release file out/release.json: no such file (resolved to ${path.join(tmp.dir, 'out/release.json')})`,
    ]);
  });

  test('a release file with a bad digest is reported against the release file', () => {
    fs.writeFileSync(path.join(tmp.dir, 'bad-release.json'), JSON.stringify({ services: { web: { digest: 'sha256:1234' } } }));
    const f = write(config({ release: '\n  file: bad-release.json' }));
    assert.deepEqual(problems(f), [`bad-release.json: /services/web/digest: must be sha256: followed by 64 lowercase hex characters`]);
  });

  test('a release file with a syntax error', () => {
    fs.writeFileSync(path.join(tmp.dir, 'broken-release.json'), '{"services": {"web": {"digest": "x"}}');
    const f = write(config({ release: '\n  file: broken-release.json' }));
    assert.deepEqual(problems(f), [`broken-release.json:1:38: JSON syntax error: expected ',' or '}', found the end of the file`]);
  });

  test('schema problems come first; file checks run only on a config that has the right shape', () => {
    const f = write(config({ targets: sshTarget('\n      user: audit\n      identityFile: keys/missing\n      color: blue') }));
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh: unknown key "color" (allowed: user, identityFile, agent, passphraseEnv, knownHostsFile, connectTimeoutMs, commandTimeoutMs, maxOutputMiB)`,
    ]);
  });
});

describe('secrets', () => {
  test('no secret value appears in any message or in the loaded config', () => {
    const env = { LAB_KEY_PASSPHRASE: SECRET, AWS_ACCESS_KEY_ID: SECRET, AWS_SECRET_ACCESS_KEY: SECRET };
    // Many problems at once, including a secret typed where a variable NAME belongs.
    const f = write(
      config({
        targets:
          sshTarget(`\n      user: audit\n      identityFile: keys/missing\n      passphraseEnv: LAB_KEY_PASSPHRASE`) +
          sshTarget(`\n      user: audit\n      identityFile: keys/id_ed25519\n      passphraseEnv: "${SECRET}"`).replace('name: static', 'name: static2') +
          ec2Target('\n      region: eu-west-1\n      credentials: { accessKeyIdEnv: NOT_SET_ID, secretAccessKeyEnv: NOT_SET_SECRET }'),
        release: `\n  services: { web: { digest: "${DIGEST_A}" } }`,
      }),
    );
    const got = problems(f, opts(env));
    assert.deepEqual(got, [
      `${f}: /targets/1/ssh/passphraseEnv: must be the name of an environment variable (letters, digits and _, not starting with a digit), not a secret value`,
    ]);
    // Fix the schema problem: the file checks report names, not values.
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(`"${SECRET}"`, 'LAB_KEY_PASSPHRASE'));
    const later = problems(f, opts(env));
    assert.deepEqual(later, [
      `${f}: /targets/0/ssh/identityFile: cannot read identity file keys/missing: no such file (resolved to ${path.join(tmp.dir, 'keys/missing')})`,
      `${f}: /targets/2/ec2/credentials/accessKeyIdEnv: environment variable NOT_SET_ID is not set`,
      `${f}: /targets/2/ec2/credentials/secretAccessKeyEnv: environment variable NOT_SET_SECRET is not set`,
    ]);
    for (const line of [...got, ...later]) assert.ok(!line.includes(SECRET), line);

    fs.writeFileSync(
      f,
      fs
        .readFileSync(f, 'utf8')
        .replace('keys/missing', 'keys/id_ed25519')
        .replace(/NOT_SET_ID/g, 'AWS_ACCESS_KEY_ID')
        .replace(/NOT_SET_SECRET/g, 'AWS_SECRET_ACCESS_KEY'),
    );
    const loaded = loadConfig(f, opts(env));
    assert.ok(!JSON.stringify(loaded).includes(SECRET));
    assert.equal(loaded.targets[0]!.ssh?.passphraseEnv, 'LAB_KEY_PASSPHRASE');
  });
});

describe('valid configs', () => {
  test('a minimal config gets every default', () => {
    const text = config();
    const f = write(text);
    const c = loadConfig(f, opts());
    assert.deepEqual(c.policy, {
      ssh: {
        mode: 'read-only',
        immutablePaths: ['/etc', '/usr/bin', '/usr/lib', '/etc/cron.d', '/etc/systemd/system', '/var/lib/dpkg', '~/.ssh'],
        writablePaths: ['/tmp', '/run'],
        aggressive: false,
        concurrency: 8,
      },
      manifest: { excludes: [], metadataOnly: [] },
      container: { nonRoot: false },
      disabledControls: [],
    });
    assert.deepEqual(c.chaos, {
      kill: { count: 1 },
      killIntervalSeconds: 3,
      kinds: ['sigkill'],
      dryRun: false,
      load: { rate: 50, durationSeconds: 15, warmupSeconds: 3, path: '/health' },
      stateProbe: { keys: 20, servedByHeader: 'x-served-by' },
      slo: { maxErrorRate: 0.01, p99Ms: 500, recoverySeconds: 30 },
      abortErrorRate: 0.5,
    });
    assert.deepEqual(c.safety, { optInLabel: 'driftless.chaos=opt-in', maxKills: 1, allowedEnvironments: ['lab'], allowProduction: false });
    assert.equal(c.report, undefined);
    assert.deepEqual(c.release, { services: { web: { digest: DIGEST_A } } });
    assert.deepEqual(c.source, { file: f, sha256: createHash('sha256').update(text).digest('hex') });
  });

  test('partial sections keep what is given and default the rest', () => {
    const c = loadConfig(write(config({ extra: 'chaos:\n  kill: { percent: 34 }\n  load: { rate: 5 }\n' })), opts());
    assert.deepEqual(c.chaos.kill, { percent: 34 });
    assert.deepEqual(c.chaos.load, { rate: 5, durationSeconds: 15, warmupSeconds: 3, path: '/health' });
  });

  test('a JSON config works', () => {
    const f = write(
      JSON.stringify({
        version: 1,
        targets: [{ name: 'web', provider: 'docker', service: 'web', docker: { labels: { app: 'web' } } }],
        release: { services: { web: { digest: DIGEST_A } } },
        safety: { maxKills: 3 },
      }),
      'json',
    );
    const c = loadConfig(f, opts());
    assert.equal(c.targets[0]!.name, 'web');
    assert.equal(c.safety.maxKills, 3);
    assert.equal(c.policy.ssh.concurrency, 8);
  });

  test('relative paths are resolved against the config directory; the release file is merged (inline wins)', () => {
    const sub = fs.mkdtempSync(path.join(tmp.dir, 'proj-'));
    fs.mkdirSync(path.join(sub, 'keys'));
    fs.mkdirSync(path.join(sub, 'build'));
    fs.writeFileSync(path.join(sub, 'keys', 'id'), 'k');
    fs.writeFileSync(path.join(sub, 'keys', 'hosts'), 'h');
    fs.writeFileSync(
      path.join(sub, 'build', 'release.yaml'),
      `release: r42\nservices:\n  web: { digest: "${DIGEST_B}", manifest: web.manifest.json }\n  api: { digest: "${DIGEST_B}" }\n`,
    );
    fs.mkdirSync(path.join(tmp.home, '.ssh'), { recursive: true });
    fs.writeFileSync(path.join(tmp.home, '.ssh', 'id_home'), 'k');
    fs.writeFileSync(
      path.join(sub, 'driftless.config.yaml'),
      config({
        targets:
          sshTarget('\n      user: audit\n      identityFile: keys/id\n      knownHostsFile: ./keys/hosts') +
          '\n  - name: web\n    provider: docker\n    service: web\n    docker: { labels: { a: b }, socketPath: run/docker.sock }\n    ssh: { user: u, identityFile: ~/.ssh/id_home }',
        release: `\n  file: build/release.yaml\n  services:\n    api: { digest: "${DIGEST_A}", manifest: manifests/api.json }`,
      }),
    );
    // Loaded from another working directory: paths follow the file, not the cwd.
    const c = loadConfig(path.relative(process.cwd(), path.join(sub, 'driftless.config.yaml')), opts());
    const [ssh, docker] = c.targets;
    assert.equal(ssh!.ssh?.identityFile, path.join(sub, 'keys', 'id'));
    assert.equal(ssh!.ssh?.knownHostsFile, path.join(sub, 'keys', 'hosts'));
    assert.ok(docker && docker.provider === 'docker');
    assert.equal(docker.docker.socketPath, path.join(sub, 'run', 'docker.sock'));
    assert.equal(docker.ssh?.identityFile, path.join(tmp.home, '.ssh', 'id_home'));
    assert.deepEqual(c.release, {
      name: 'r42',
      file: path.join(sub, 'build', 'release.yaml'),
      services: {
        web: { digest: DIGEST_B, manifest: path.join(sub, 'build', 'web.manifest.json') }, // relative to the release file
        api: { digest: DIGEST_A, manifest: path.join(sub, 'manifests', 'api.json') }, // inline wins, relative to the config
      },
    });
    assert.equal(c.source.file, path.join(sub, 'driftless.config.yaml'));
  });

  test('validateConfigText checks text as if read from a file', () => {
    const c = validateConfigText(config(), path.join(tmp.dir, 'virtual.yaml'), opts());
    assert.equal(c.source.file, path.join(tmp.dir, 'virtual.yaml'));
    assert.throws(
      () => validateConfigText('version: 1\n', 'x.yaml', opts()),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.map((p) => [p.pointer, p.message]),
          [
            [
              '',
              'must list targets (the fleets to audit) or have a plan section (plan.files: the Terraform/OpenTofu plans or CloudFormation change sets to gate), or both',
            ],
          ],
        );
        return true;
      },
    );
  });

  test('the shipped example is valid once its files exist', () => {
    const h = fs.mkdtempSync(path.join(tmp.dir, 'home-'));
    fs.mkdirSync(path.join(h, '.ssh'));
    fs.writeFileSync(path.join(h, '.ssh', 'id_ed25519'), 'k');
    fs.writeFileSync(path.join(h, '.ssh', 'known_hosts'), 'h');
    const c = loadConfig(path.join(REPO_ROOT, 'examples', 'driftless.config.example.yaml'), { env: { AWS_PROFILE: 'x' }, homeDir: h });
    assert.deepEqual(
      c.targets.map((t) => `${t.name}:${t.provider}`),
      ['bastions:ssh', 'api:ec2'],
    );
    assert.equal(c.chaos.dryRun, true);
  });
});

describe('driftless validate', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'driftless.js'), 'validate', ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: tmp.home },
      timeout: 60_000,
    });

  test('a bad file: exit code 2 and every problem on stderr', () => {
    const f = write(config({ targets: '\n  - name: web\n    provider: dockr', extra: 'safety:\n  maxKills: 0\n' }));
    const r = cli([f]);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      `${f}: /targets/0/provider: must be one of ssh, docker, ec2\n` +
        `${f}: /safety/maxKills: a cap of zero kills nothing: set safety.maxKills to 1 or more, or set chaos.dryRun: true\n`,
    );
  });

  test('a good file: exit code 0 and a summary', () => {
    const f = write(config());
    const r = cli([f]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${f}: valid (1 target: web (docker); release: services web)\n`);
  });

  test('two files is a usage error', () => {
    const r = cli(['a.yaml', 'b.yaml']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'driftless: validate takes at most one argument ([file]), got 2: a.yaml b.yaml; run `driftless validate --help`\n');
  });
});
