/**
 * The config loader: every malformed config gets exactly the problems a user needs to fix it
 * (file, JSON pointer, plain words), all at once, and never a secret value.
 * Run: node --import tsx --test test/unit/config*.test.ts
 * This file: malformed files and schema problems.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../config/load.ts';
import { config, DIGEST_A, ec2Target, opts, problems, SECRET, sshTarget, tmp, useTempDirs, write } from '../helpers/config.ts';

useTempDirs();

describe('the file itself', () => {
  test('a missing file is named, with where it was looked for', () => {
    const f = path.join(tmp.dir, 'nope.yaml');
    assert.deepEqual(problems(f), [`cannot read ${f}: no such file`]);
    const rel = path.relative(process.cwd(), f);
    assert.deepEqual(problems(rel), [`cannot read ${rel}: no such file (${f})`]);
  });

  test('a directory is not a config file', () => {
    const d = fs.mkdtempSync(path.join(tmp.dir, 'adir-'));
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
      `${f}: /: unknown key "sefaty" (allowed: version, targets, release, waivers, checks, policy, chaos, deploy, safety, report, run, plan)`,
    ]);
  });

  test('an unknown key in a target lists the keys of its provider', () => {
    const f = write(config({ targets: sshTarget(`\n      user: audit\n      agent: true`).replace('    hosts:', '    hsots:'), release: '\n  services: {}' }));
    assert.deepEqual(problems(f), [
      `${f}: /targets/0: missing required key "hosts"`,
      `${f}: /targets/0: unknown key "hsots" (allowed: name, provider, environment, service, entrypoint, ssh, hosts)`,
    ]);
  });

  test('an unknown key deeper down', () => {
    const f = write(config({ extra: 'chaos:\n  load:\n    rps: 10\n' }));
    assert.deepEqual(problems(f), [`${f}: /chaos/load: unknown key "rps" (allowed: rate, durationSeconds, warmupSeconds, path)`]);
  });

  test('missing targets, and no plan section either: the one message says what a config needs', () => {
    const f = write(`version: 1\nrelease:\n  services:\n    web: { digest: "${DIGEST_A}" }\n`);
    assert.deepEqual(problems(f), [
      `${f}: /: must list targets (the fleets to audit) or have a plan section (plan.files: the Terraform/OpenTofu plans or CloudFormation change sets to gate), or both`,
    ]);
  });

  test('empty targets', () => {
    const f = write(config({ targets: ' []' }));
    assert.deepEqual(problems(f), [`${f}: /targets: must list at least one target`]);
  });

  test('missing release', () => {
    const f = write(config().replace(/release:[\s\S]*$/, ''));
    assert.deepEqual(problems(f), [`${f}: /: missing key "release": a config with targets must say what they must run (release.services or release.file)`]);
  });

  test('a release with no services at all', () => {
    const f = write(config({ targets: '\n  - { name: web, provider: docker, docker: { labels: { a: b } } }', release: ' {}' }));
    assert.deepEqual(problems(f), [`${f}: /release: declares no services: list them under release.services, or point release.file at a release file`]);
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
    assert.deepEqual(problems(f, opts({ AWS_PROFILE: 'x' })), [`${f}: /targets/0/ec2/address: must be private-ip, public-ip, or { tag: <tag name> }`]);
  });

  test('a key env var without its secret pair', () => {
    const f = write(config({ targets: ec2Target('\n      region: eu-west-1\n      credentials: { accessKeyIdEnv: MY_KEY_ID }') }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/ec2/credentials: missing key "secretAccessKeyEnv", which is required when "accessKeyIdEnv" is set`]);
  });

  test('a docker target without labels', () => {
    const f = write(config({ targets: '\n  - name: web\n    provider: docker\n    docker: { socketPath: /var/run/docker.sock }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/docker: missing required key "labels"`]);
    const g = write(config({ targets: '\n  - name: web\n    provider: docker\n    docker: { labels: {} }' }));
    assert.deepEqual(problems(g), [`${g}: /targets/0/docker/labels: must select containers by at least one label, e.g. driftless.fleet: cattle`]);
  });

  test('an entrypoint that is not a URL', () => {
    const f = write(config({ targets: '\n  - name: web\n    provider: docker\n    entrypoint: 127.0.0.1:42000\n    docker: { labels: { a: b } }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/entrypoint: must be an absolute URL such as http://127.0.0.1:42000`]);
  });

  test('a bad target name', () => {
    const f = write(config({ targets: '\n  - name: "my fleet"\n    provider: docker\n    docker: { labels: { a: b } }' }));
    assert.deepEqual(problems(f), [`${f}: /targets/0/name: must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`]);
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
    assert.deepEqual(problems(f), [`${f}: /safety/maxKills: a cap of zero kills nothing: set safety.maxKills to 1 or more, or set chaos.dryRun: true`]);
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
      `${f}: /targets/1/docker: unknown key "lables" (allowed: socketPath, host, port, eventLog, labels)`,
      `${f}: /release/services/web/digest: must be sha256: followed by 64 lowercase hex characters`,
      `${f}: /chaos/kill/count: must be 1 or more`,
    ]);
  });
});

describe('bounds: nothing a typo can turn into a flood, a forever or a production blast', () => {
  const extra = (text: string) => write(config({ extra: text }));

  test('a request rate of 1e9 is refused', () => {
    const f = extra('chaos:\n  load: { rate: 1000000000 }');
    assert.deepEqual(problems(f), [`${f}: /chaos/load/rate: must be at most 10000 requests per second: driftless is not a load-testing tool`]);
  });

  test('timeouts past what a timer can hold (Node turns anything over 2^31-1 ms into 1 ms) are refused', () => {
    const f = write(
      config({
        targets: sshTarget('\n      user: audit\n      identityFile: keys/id_ed25519\n      connectTimeoutMs: 3000000000\n      commandTimeoutMs: 3000000000'),
      }),
    );
    assert.deepEqual(problems(f), [
      `${f}: /targets/0/ssh/connectTimeoutMs: must be at most 600000 (10 minutes)`,
      `${f}: /targets/0/ssh/commandTimeoutMs: must be at most 3600000 (an hour)`,
    ]);
  });

  test('durations, counts and keys have ceilings', () => {
    const f = extra(
      'chaos:\n  kill: { count: 5000 }\n  killIntervalSeconds: 99999\n  load: { durationSeconds: 99999, warmupSeconds: 99999 }\n  stateProbe: { keys: 99999, readRequests: 1000 }\n  slo: { p99Ms: 9999999, recoverySeconds: 999999 }\nsafety:\n  maxKills: 5000',
    );
    assert.deepEqual(problems(f), [
      `${f}: /chaos/kill/count: must be 1000 or less`,
      `${f}: /chaos/killIntervalSeconds: must be 3600 or less`,
      `${f}: /chaos/load/durationSeconds: must be 3600 or less`,
      `${f}: /chaos/load/warmupSeconds: must be 3600 or less`,
      `${f}: /chaos/stateProbe/keys: must be 10000 or less`,
      `${f}: /chaos/stateProbe/readRequests: must be 100 or less`,
      `${f}: /chaos/slo/p99Ms: must be 600000 or less`,
      `${f}: /chaos/slo/recoverySeconds: must be 86400 or less`,
      `${f}: /safety/maxKills: must be 1000 or less`,
    ]);
  });

  test('a seed outside 32 bits is refused', () => {
    const f = extra('chaos:\n  seed: 99999999999');
    assert.deepEqual(problems(f), [`${f}: /chaos/seed: must be a 32-bit unsigned integer (0 to 4294967295)`]);
  });

  test('an EC2 target with only a region (every instance in it) is refused', () => {
    const f = write(
      config({
        targets: '\n  - name: api\n    provider: ec2\n    ec2: { region: eu-west-1 }',
        release: '\n  services: { web: { ami: ami-0123456789abcdef0 } }',
      }),
    );
    assert.deepEqual(problems(f, opts({ AWS_PROFILE: 'x' })), [
      `${f}: /targets/0/ec2: must select instances by autoScalingGroup or at least one filter: a region alone would be every instance in it`,
    ]);
  });

  test('a production-like environment needs a second, explicit switch', () => {
    const f = extra('safety:\n  allowedEnvironments: [staging, production, prod-eu]');
    assert.deepEqual(problems(f), [
      `${f}: /safety/allowedEnvironments/1: "production" looks like a production environment: chaos there also needs safety.allowProduction: true (a second, explicit switch)`,
      `${f}: /safety/allowedEnvironments/2: "prod-eu" looks like a production environment: chaos there also needs safety.allowProduction: true (a second, explicit switch)`,
    ]);
    assert.doesNotThrow(() => loadConfig(extra('safety:\n  allowedEnvironments: [production]\n  allowProduction: true'), opts()));
  });
});

describe('deploy', () => {
  test('a deploy naming a fleet that is no target, sampling slower than 250 ms, with an empty command: each named with the fix', () => {
    const f = write(config({ extra: 'deploy:\n  command: []\n  fleets: [web, nope]\n  sampleMs: 1000\n' }));
    const p = problems(f);
    assert.ok(p.includes(`${f}: /deploy/command: must list at least 1 item`), p.join('\n'));
    assert.ok(p.includes(`${f}: /deploy/sampleMs: must be 250 or less`), p.join('\n'));
    const g = write(config({ extra: 'deploy:\n  command: [./deploy.sh]\n  fleets: [web, nope]\n' }));
    assert.deepEqual(problems(g), [`${g}: /deploy/fleets/1: no target is named "nope": the targets are web`]);
  });
});
