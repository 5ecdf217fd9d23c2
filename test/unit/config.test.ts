/**
 * The config loader: every malformed config gets exactly the problems a user needs to fix it
 * (file, JSON pointer, plain words), all at once, and never a secret value.
 * Run: node --import tsx --test test/unit/config.test.ts
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError, type LoadOptions, loadConfig, validateConfigText } from '../../config/load.ts';
import { REPO_ROOT } from '../../core/paths.ts';

const DIGEST_A = 'sha256:' + 'a'.repeat(64);
const DIGEST_B = 'sha256:' + 'b'.repeat(64);
const SECRET = 'hunter2-Correct-Horse-Battery-Staple';

let dir: string;
let home: string; // an empty home: no ~/.aws/credentials, no ~/.ssh
/** Every load sees only this environment unless a test says otherwise. */
const opts = (env: NodeJS.ProcessEnv = {}): LoadOptions => ({ env, homeDir: home });

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-config-test-'));
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-config-home-'));
  fs.mkdirSync(path.join(dir, 'keys'));
  fs.writeFileSync(path.join(dir, 'keys', 'id_ed25519'), 'not really a key\n', { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'keys', 'known_hosts'), '[127.0.0.1]:22 ssh-ed25519 AAAA\n');
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(home, { recursive: true, force: true });
});

let n = 0;
/** Writes `text` to a fresh file in the temp dir and returns its absolute path. */
function write(text: string, ext = 'yaml'): string {
  const f = path.join(dir, `config-${++n}.${ext}`);
  fs.writeFileSync(f, text);
  return f;
}

/** The printed problem lines of a config that must be rejected. */
function problems(file: string, o: LoadOptions = opts()): string[] {
  try {
    loadConfig(file, o);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, err.problems.map((p) => p.text).join('\n'));
    return err.problems.map((p) => p.text);
  }
  assert.fail(`${file} was accepted`);
}

/** A valid config around one target; tests replace pieces of it. */
function config(parts: { targets?: string; release?: string; extra?: string } = {}): string {
  const targets =
    parts.targets ??
    `
  - name: web
    provider: docker
    service: web
    docker:
      labels: { app: web }`;
  const release = parts.release ?? `\n  services:\n    web: { digest: "${DIGEST_A}" }`;
  return `version: 1\ntargets:${targets}\nrelease:${release}\n${parts.extra ?? ''}`;
}

const sshTarget = (ssh: string, hosts = `\n      - { id: h1, address: 127.0.0.1 }`) => `
  - name: static
    provider: ssh
    ssh:${ssh}
    hosts:${hosts}`;

const ec2Target = (ec2: string) => `
  - name: api
    provider: ec2
    ec2:${ec2}`;

describe('the file itself', () => {
  test('a missing file is named, with where it was looked for', () => {
    const f = path.join(dir, 'nope.yaml');
    assert.deepEqual(problems(f), [`cannot read ${f}: no such file`]);
    const rel = path.relative(process.cwd(), f);
    assert.deepEqual(problems(rel), [`cannot read ${rel}: no such file (${f})`]);
  });

  test('a directory is not a config file', () => {
    const d = fs.mkdtempSync(path.join(dir, 'adir-'));
    assert.deepEqual(problems(d), [`cannot read ${d}: it is a directory, not a file`]);
  });

  test('an unreadable file says permission denied', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, () => {
    const f = write(config());
    fs.chmodSync(f, 0o000);
    assert.deepEqual(problems(f), [`cannot read ${f}: permission denied`]);
  });

  test('an empty file says where to start', () => {
    const f = write('# nothing yet\n');
    assert.deepEqual(problems(f), [`${f}: /: the file is empty: start from examples/driftless.config.example.yaml`]);
  });

  test('a YAML syntax error gives line and column', () => {
    const f = write('version: 1\ntargets:\n  - name: web\n    provider: docker: x\n');
    assert.deepEqual(problems(f), [`${f}:4:15: YAML syntax error: Nested mappings are not allowed in compact mappings`]);
  });

  test('a duplicate YAML key is a syntax error at the second key', () => {
    const f = write('version: 1\ntargets:\n  - name: web\n    provider: docker\n    provider: ssh\n');
    assert.deepEqual(problems(f), [`${f}:5:5: YAML syntax error: Map keys must be unique`]);
  });

  test('a JSON syntax error gives line and column and does not quote the file', () => {
    const f = write(`{\n  "version": 1,\n  "targets": [,],\n  "x": "${SECRET}"\n}\n`, 'json');
    const got = problems(f);
    assert.deepEqual(got, [`${f}:3:15: JSON syntax error: expected a value, found ','`]);
    assert.ok(!got.join('\n').includes(SECRET));
  });

  test('a JSON file that ends early', () => {
    const f = write('{"version": 1, "targets": [', 'json');
    assert.deepEqual(problems(f), [`${f}:1:28: JSON syntax error: expected ',' or ']', found the end of the file`]);
  });
});

describe('schema problems', () => {
  test('wrong types are named in words', () => {
    const f = write(
      config({ extra: 'policy:\n  ssh:\n    concurrency: "8"\n    aggressive: "yes"\nchaos:\n  kinds: sigkill\n' }).replace('version: 1', 'version: "1"'),
    );
    assert.deepEqual(problems(f), [
      `${f}: /version: must be 1 (the only config version this driftless understands)`,
      `${f}: /policy/ssh/aggressive: must be true or false`,
      `${f}: /policy/ssh/concurrency: must be a whole number`,
      `${f}: /chaos/kinds: must be a list`,
    ]);
  });

  test('a number where a string belongs says to quote it', () => {
    const f = write(config({ targets: '\n  - name: web\n    provider: docker\n    docker: { labels: { app: web, version: 2 } }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/docker/labels/version: must be a string (put it in quotes)`]);
  });

  test('targets must be a list of mappings', () => {
    const f = write(config({ targets: ' web' }));
    assert.deepEqual(problems(f), [`${f}: /targets: must be a list`]);
    const g = write(config({ targets: '\n  - web' }));
    assert.deepEqual(problems(g), [`${g}: /targets/0: must be a mapping (key: value)`]);
  });

  test('an unknown provider is one error, not one per provider', () => {
    const f = write(config({ targets: '\n  - name: web\n    provider: kubernetes\n    docker: { labels: { a: b } }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/provider: must be one of ssh, docker, ec2`]);
  });

  test('a target without a provider', () => {
    const f = write(config({ targets: '\n  - name: web\n    docker: { labels: { a: b } }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0: missing required key "provider"`]);
  });

  test('an unknown top-level key lists the allowed ones', () => {
    const f = write(config({ extra: 'sefaty:\n  maxKills: 1\n' }));
    assert.deepEqual(problems(f), [
      `${f}: /: unknown key "sefaty" (allowed: version, targets, release, policy, chaos, safety, report)`,
    ]);
  });

  test('an unknown key in a target lists the keys of its provider', () => {
    const f = write(
      config({ targets: sshTarget(`\n      user: audit\n      agent: true`).replace('    hosts:', '    hsots:'), release: '\n  services: {}' }),
    );
    assert.deepEqual(problems(f), [
      `${f}: /targets/0: missing required key "hosts"`,
      `${f}: /targets/0: unknown key "hsots" (allowed: name, provider, environment, service, entrypoint, ssh, hosts)`,
    ]);
  });

  test('an unknown key deeper down', () => {
    const f = write(config({ extra: 'chaos:\n  load:\n    rps: 10\n' }));
    assert.deepEqual(problems(f), [`${f}: /chaos/load: unknown key "rps" (allowed: rate, durationSeconds, warmupSeconds, path)`]);
  });

  test('missing targets', () => {
    const f = write(`version: 1\nrelease:\n  services:\n    web: { digest: "${DIGEST_A}" }\n`);
    assert.deepEqual(problems(f), [`${f}: /: missing required key "targets"`]);
  });

  test('empty targets', () => {
    const f = write(config({ targets: ' []' }));
    assert.deepEqual(problems(f), [`${f}: /targets: must list at least one target`]);
  });

  test('missing release', () => {
    const f = write(config().replace(/release:[\s\S]*$/, ''));
    assert.deepEqual(problems(f), [`${f}: /: missing required key "release"`]);
  });

  test('a release with no services at all', () => {
    const f = write(config({ targets: '\n  - { name: web, provider: docker, docker: { labels: { a: b } } }', release: ' {}' }));
    assert.deepEqual(problems(f), [
      `${f}: /release: declares no services: list them under release.services, or point release.file at a release file`,
    ]);
  });

  test('bad digests: not sha256:, wrong length, uppercase hex', () => {
    const f = write(
      config({
        release: `
  services:
    web: { digest: "md5:${'a'.repeat(32)}" }
    short: { digest: "sha256:${'a'.repeat(63)}" }
    upper: { digest: "sha256:${'A'.repeat(64)}" }`,
      }),
    );
    const msg = 'must be sha256: followed by 64 lowercase hex characters';
    assert.deepEqual(problems(f), [
      `${f}: /release/services/web/digest: ${msg}`,
      `${f}: /release/services/short/digest: ${msg}`,
      `${f}: /release/services/upper/digest: ${msg}`,
    ]);
  });

  test('a release service must declare something to check', () => {
    const f = write(config({ release: '\n  services:\n    web: { deployedAt: "2025-01-31T12:00:00Z" }' }));
    assert.deepEqual(problems(f), [`${f}: /release/services/web: must declare at least one of digest, ami or manifest`]);
  });

  test('a bad AMI id', () => {
    const f = write(config({ release: '\n  services:\n    web: { ami: ami-12345 }' }));
    assert.deepEqual(problems(f), [`${f}: /release/services/web/ami: must be an AMI id: ami- followed by 8 to 17 lowercase hex characters`]);
  });

  test('a bad host key fingerprint', () => {
    const f = write(
      config({
        targets: sshTarget(`\n      user: audit\n      agent: true`, `\n      - { id: h1, address: 127.0.0.1, hostKey: "MD5:aa:bb" }`),
        release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }',
      }),
    );
    assert.deepEqual(problems(f, opts({ SSH_AUTH_SOCK: '/tmp/agent.sock' })), [
      `${f}: /targets/0/hosts/0/hostKey: must be a host key fingerprint: SHA256: followed by 43 base64 characters, as printed by \`ssh-keygen -lf <key>.pub\``,
    ]);
  });

  test('ssh needs a key or the agent', () => {
    const f = write(config({ targets: sshTarget('\n      user: audit'), release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/ssh: must set identityFile (a private key file) or agent: true`]);
  });

  test('ec2 without a region', () => {
    const f = write(config({ targets: ec2Target('\n      address: private-ip'), release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }' }));
    assert.deepEqual(problems(f, opts({ AWS_PROFILE: 'x' })), [`${f}: /targets/0/ec2: missing required key "region"`]);
  });

  test('ec2 address must be a known form', () => {
    const f = write(config({ targets: ec2Target('\n      region: eu-west-1\n      address: { tagg: Name }') }));
    assert.deepEqual(problems(f, opts({ AWS_PROFILE: 'x' })), [
      `${f}: /targets/0/ec2/address: must be private-ip, public-ip, or { tag: <tag name> }`,
    ]);
  });

  test('a key env var without its secret pair', () => {
    const f = write(config({ targets: ec2Target('\n      region: eu-west-1\n      credentials: { accessKeyIdEnv: MY_KEY_ID }') }));
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ec2/credentials: missing key "secretAccessKeyEnv", which is required when "accessKeyIdEnv" is set`,
    ]);
  });

  test('a docker target without labels', () => {
    const f = write(config({ targets: '\n  - name: web\n    provider: docker\n    docker: { socketPath: /var/run/docker.sock }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/docker: missing required key "labels"`]);
    const g = write(config({ targets: '\n  - name: web\n    provider: docker\n    docker: { labels: {} }' }));
    assert.deepEqual(problems(g), [
      `${g}: /targets/0/docker/labels: must select containers by at least one label, e.g. driftless.fleet: cattle`,
    ]);
  });

  test('an entrypoint that is not a URL', () => {
    const f = write(config({ targets: '\n  - name: web\n    provider: docker\n    entrypoint: 127.0.0.1:42000\n    docker: { labels: { a: b } }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/entrypoint: must be an absolute URL such as http://127.0.0.1:42000`]);
  });

  test('a bad target name', () => {
    const f = write(config({ targets: '\n  - name: "my fleet"\n    provider: docker\n    docker: { labels: { a: b } }' }));
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/name: must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    ]);
  });

  test('kill takes count or percent, not both, not neither', () => {
    const f = write(config({ extra: 'chaos:\n  kill: { count: 1, percent: 10 }\n' }));
    assert.deepEqual(problems(f), [`${f}: /chaos/kill: must set count or percent, not both`]);
    const g = write(config({ extra: 'chaos:\n  kill: {}\n' }));
    assert.deepEqual(problems(g), [`${g}: /chaos/kill: must set one of count or percent`]);
  });

  test('percent above 100', () => {
    const f = write(config({ extra: 'chaos:\n  kill: { percent: 150 }\n' }));
    assert.deepEqual(problems(f), [`${f}: /chaos/kill/percent: must be 100 or less`]);
  });

  test('maxKills 0 explains what to do instead', () => {
    const f = write(config({ extra: 'safety:\n  maxKills: 0\n' }));
    assert.deepEqual(problems(f), [
      `${f}: /safety/maxKills: a cap of zero kills nothing: set safety.maxKills to 1 or more, or set chaos.dryRun: true`,
    ]);
  });

  test('a negative load rate and out-of-range rates', () => {
    const f = write(config({ extra: 'chaos:\n  load: { rate: -5 }\n  slo: { maxErrorRate: 2 }\n  abortErrorRate: -0.1\n' }));
    assert.deepEqual(problems(f), [
      `${f}: /chaos/load/rate: must be greater than 0`,
      `${f}: /chaos/slo/maxErrorRate: must be 1 or less`,
      `${f}: /chaos/abortErrorRate: must be 0 or more`,
    ]);
  });

  test('an unknown kill kind', () => {
    const f = write(config({ extra: 'chaos:\n  kinds: [sigkill, reboot]\n' }));
    assert.deepEqual(problems(f), [`${f}: /chaos/kinds/1: must be one of sigkill, stop, terminate`]);
  });

  test('a bad policy mode', () => {
    const f = write(config({ extra: 'policy:\n  ssh:\n    mode: readonly\n' }));
    assert.deepEqual(problems(f), [`${f}: /policy/ssh/mode: must be one of forbidden, read-only`]);
  });

  test('a relative immutable path', () => {
    const f = write(config({ extra: 'policy:\n  ssh:\n    immutablePaths: [/etc, usr/bin]\n    writablePaths: [tmp]\n' }));
    assert.deepEqual(problems(f), [
      `${f}: /policy/ssh/immutablePaths/1: must be an absolute path (starting with / or ~/)`,
      `${f}: /policy/ssh/writablePaths/0: must be an absolute path (starting with / or ~/)`,
    ]);
  });

  test('concurrency out of range', () => {
    const f = write(config({ extra: 'policy:\n  ssh:\n    concurrency: 0\n' }));
    assert.deepEqual(problems(f), [`${f}: /policy/ssh/concurrency: must be 1 or more`]);
  });

  test('optInLabel must be key=value', () => {
    const f = write(config({ extra: 'safety:\n  optInLabel: driftless.chaos\n' }));
    assert.deepEqual(problems(f), [`${f}: /safety/optInLabel: must be key=value, e.g. driftless.chaos=opt-in`]);
  });

  test('a report link without a valid URL', () => {
    const f = write(config({ extra: 'report:\n  links:\n    - { name: runbook, url: "not a url" }\n' }));
    assert.deepEqual(problems(f), [`${f}: /report/links/0/url: must be an absolute URL such as http://127.0.0.1:42000`]);
  });

  test('every problem is reported at once, one line each, de-duplicated', () => {
    const f = write(
      `version: 2\ntargets:\n  - name: a\n    provider: dockr\n  - name: b\n    provider: docker\n    docker: { labels: { a: b }, lables: {} }\n` +
        `release:\n  services:\n    web: { digest: "sha256:AB" }\nchaos: { kill: { count: 0 } }\n`,
    );
    assert.deepEqual(problems(f), [
      `${f}: /version: must be 1 (the only config version this driftless understands)`,
      `${f}: /targets/0/provider: must be one of ssh, docker, ec2`,
      `${f}: /targets/1/docker: unknown key "lables" (allowed: socketPath, host, port, labels)`,
      `${f}: /release/services/web/digest: must be sha256: followed by 64 lowercase hex characters`,
      `${f}: /chaos/kill/count: must be 1 or more`,
    ]);
  });
});

describe('checks beyond the schema', () => {
  test('a missing identity file, resolved against the config directory', () => {
    const f = write(config({ targets: sshTarget('\n      user: audit\n      identityFile: keys/missing_key'), release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }' }));
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh/identityFile: cannot read identity file keys/missing_key: no such file (resolved to ${path.join(dir, 'keys/missing_key')})`,
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
      `${f}: /targets/0/ssh/knownHostsFile: cannot read known_hosts file keys/nope_hosts: no such file (resolved to ${path.join(dir, 'keys/nope_hosts')})`,
    ]);
  });

  test('a key file under the lab directory says how to create it', () => {
    const f = write(
      config({ targets: sshTarget('\n      user: audit\n      identityFile: .driftless/lab/id_ed25519'), release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }' }),
    );
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh/identityFile: cannot read identity file .driftless/lab/id_ed25519: no such file ` +
        `(resolved to ${path.join(dir, '.driftless/lab/id_ed25519')}); run \`driftless lab up\` to create it`,
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
      'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_SHARED_CREDENTIALS_FILE', 'HOME',
    ];
    const saved = Object.fromEntries(names.map((k) => [k, process.env[k]]));
    try {
      for (const k of names) delete process.env[k];
      process.env.HOME = home; // no ~/.aws/credentials there
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
    const h = fs.mkdtempSync(path.join(dir, 'home-'));
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
      `${f}: /release/file: cannot read release file out/release.json: no such file (resolved to ${path.join(dir, 'out/release.json')})`,
    ]);
  });

  test('a release file with a bad digest is reported against the release file', () => {
    fs.writeFileSync(path.join(dir, 'bad-release.json'), JSON.stringify({ services: { web: { digest: 'sha256:1234' } } }));
    const f = write(config({ release: '\n  file: bad-release.json' }));
    assert.deepEqual(problems(f), [`bad-release.json: /services/web/digest: must be sha256: followed by 64 lowercase hex characters`]);
  });

  test('a release file with a syntax error', () => {
    fs.writeFileSync(path.join(dir, 'broken-release.json'), '{"services": {"web": {"digest": "x"}}');
    const f = write(config({ release: '\n  file: broken-release.json' }));
    assert.deepEqual(problems(f), [`broken-release.json:1:38: JSON syntax error: expected ',' or '}', found the end of the file`]);
  });

  test('schema problems come first; file checks run only on a config that has the right shape', () => {
    const f = write(config({ targets: sshTarget('\n      user: audit\n      identityFile: keys/missing\n      color: blue') }));
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh: unknown key "color" (allowed: user, identityFile, agent, passphraseEnv, knownHostsFile, connectTimeoutMs, commandTimeoutMs)`,
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
      `${f}: /targets/0/ssh/identityFile: cannot read identity file keys/missing: no such file (resolved to ${path.join(dir, 'keys/missing')})`,
      `${f}: /targets/2/ec2/credentials/accessKeyIdEnv: environment variable NOT_SET_ID is not set`,
      `${f}: /targets/2/ec2/credentials/secretAccessKeyEnv: environment variable NOT_SET_SECRET is not set`,
    ]);
    for (const line of [...got, ...later]) assert.ok(!line.includes(SECRET), line);

    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace('keys/missing', 'keys/id_ed25519').replace(/NOT_SET_ID/g, 'AWS_ACCESS_KEY_ID').replace(/NOT_SET_SECRET/g, 'AWS_SECRET_ACCESS_KEY'));
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
    });
    assert.deepEqual(c.chaos, {
      kill: { count: 1 },
      kinds: ['sigkill'],
      dryRun: false,
      load: { rate: 50, durationSeconds: 15, warmupSeconds: 3, path: '/health' },
      stateProbe: { keys: 20 },
      slo: { maxErrorRate: 0.01, p99Ms: 500, recoverySeconds: 30 },
      abortErrorRate: 0.5,
    });
    assert.deepEqual(c.safety, { optInLabel: 'driftless.chaos=opt-in', maxKills: 1, allowedEnvironments: ['lab'] });
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
    const sub = fs.mkdtempSync(path.join(dir, 'proj-'));
    fs.mkdirSync(path.join(sub, 'keys'));
    fs.mkdirSync(path.join(sub, 'build'));
    fs.writeFileSync(path.join(sub, 'keys', 'id'), 'k');
    fs.writeFileSync(path.join(sub, 'keys', 'hosts'), 'h');
    fs.writeFileSync(
      path.join(sub, 'build', 'release.yaml'),
      `release: r42\nservices:\n  web: { digest: "${DIGEST_B}", manifest: web.manifest.json }\n  api: { digest: "${DIGEST_B}" }\n`,
    );
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
    fs.writeFileSync(path.join(home, '.ssh', 'id_home'), 'k');
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
    assert.equal(docker.ssh?.identityFile, path.join(home, '.ssh', 'id_home'));
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
    const c = validateConfigText(config(), path.join(dir, 'virtual.yaml'), opts());
    assert.equal(c.source.file, path.join(dir, 'virtual.yaml'));
    assert.throws(() => validateConfigText('version: 1\n', 'x.yaml', opts()), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map((p) => [p.pointer, p.message]), [
        ['', 'missing required key "targets"'],
        ['', 'missing required key "release"'],
      ]);
      return true;
    });
  });

  test('the shipped example is valid once its files exist', () => {
    const h = fs.mkdtempSync(path.join(dir, 'home-'));
    fs.mkdirSync(path.join(h, '.ssh'));
    fs.writeFileSync(path.join(h, '.ssh', 'id_ed25519'), 'k');
    fs.writeFileSync(path.join(h, '.ssh', 'known_hosts'), 'h');
    const c = loadConfig(path.join(REPO_ROOT, 'examples', 'driftless.config.example.yaml'), { env: { AWS_PROFILE: 'x' }, homeDir: h });
    assert.deepEqual(c.targets.map((t) => `${t.name}:${t.provider}`), ['bastions:ssh', 'api:ec2']);
    assert.equal(c.chaos.dryRun, true);
  });
});

describe('driftless validate', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'driftless.js'), 'validate', ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: home },
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
    assert.equal(r.stderr, 'driftless: validate takes one config file, got 2: a.yaml b.yaml\n');
  });
});
