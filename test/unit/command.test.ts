/**
 * The local command runner (a deploy): output decoded across chunks, line by line; the deploy's
 * environment is minimal (a variable the config does not list never reaches it); output is
 * redacted before it is cut to its tail, so a secret straddling the cut never shows, whole or half.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { deployEnv } from '../../audits/deploy/deploy-env.ts';
import { loadConfig } from '../../config/load.ts';
import { secretValues } from '../../core/redact.ts';
import { redactedTail, runCommand } from '../../probes/command.ts';
import { config } from '../helpers/config.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-command-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SECRET = 'hunter2-Z9Q7-W8K5-XJ4M-token';
/** Every piece of the secret of 4 characters or more that shows in `text`. */
const leaks = (text: string, secret = SECRET) => {
  const out: string[] = [];
  for (let i = 0; i + 4 <= secret.length; i++) if (text.includes(secret.slice(i, i + 4))) out.push(secret.slice(i, i + 4));
  return out;
};

test('a UTF-8 character split between two writes decodes whole, in the output and in the lines', async () => {
  // Writes "café\n" to stdout and stderr, cutting é between its two bytes, 50 ms apart.
  const script = `
    const b = Buffer.from('café\\n');
    const cut = b.indexOf(0xc3) + 1;
    process.stdout.write(b.subarray(0, cut));
    process.stderr.write(b.subarray(0, cut));
    setTimeout(() => { process.stdout.write(b.subarray(cut)); process.stderr.write(b.subarray(cut)); }, 50);`;
  const lines: string[] = [];
  const r = await runCommand([process.execPath, '-e', script], { cwd: os.tmpdir(), timeoutMs: 10_000, env: process.env, onLine: (l) => lines.push(l) });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'café\n');
  assert.equal(r.stderr, 'café\n');
  assert.deepEqual(lines, ['café', 'café']);
});

test('the deploy runs with PATH, HOME, the locale, TMPDIR, DOCKER_HOST and what deploy.env lists: an unlisted secret never reaches it', async () => {
  process.env.DL_TEST_UNLISTED_TOKEN = 'unlisted-token-value-42'; // in driftless's environment, not listed
  process.env.DL_TEST_LISTED = 'listed-value';
  process.env.LC_TEST = 'C';
  process.env.DOCKER_HOST = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  try {
    const env = deployEnv(['DL_TEST_LISTED', 'DL_TEST_NOT_SET'], process.env);
    const r = await runCommand(['sh', '-c', 'env'], { cwd: tmp, timeoutMs: 10_000, env });
    assert.equal(r.exitCode, 0, r.stderr);
    const seen = new Map(
      r.stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.ok(!seen.has('DL_TEST_UNLISTED_TOKEN') && !r.stdout.includes('unlisted-token-value-42'), 'the unlisted variable is not in the child');
    assert.equal(seen.get('DL_TEST_LISTED'), 'listed-value');
    assert.equal(seen.get('LC_TEST'), 'C');
    assert.equal(seen.get('DOCKER_HOST'), process.env.DOCKER_HOST);
    assert.equal(seen.get('PATH'), process.env.PATH);
    const allowed = new Set(['PATH', 'HOME', 'LANG', 'TMPDIR', 'DOCKER_HOST', 'DL_TEST_LISTED', 'PWD', 'SHLVL', '_', 'OLDPWD']);
    assert.deepEqual(
      [...seen.keys()].filter((k) => !allowed.has(k) && !k.startsWith('LC_')),
      [],
      'nothing else of our environment (the shell adds PWD, SHLVL, _)',
    );
  } finally {
    delete process.env.DL_TEST_UNLISTED_TOKEN;
    delete process.env.DL_TEST_LISTED;
    delete process.env.LC_TEST;
  }
});

test('every value deploy.env passes is a secret: redacted from results and logs', () => {
  const file = path.join(tmp, 'deploy.yaml');
  fs.writeFileSync(file, config({ extra: 'deploy:\n  command: ["true"]\n  env: [DL_DEPLOY_TOKEN, DL_SHORT]\n' }));
  const c = loadConfig(file, { env: {} });
  const secrets = secretValues(c, { DL_DEPLOY_TOKEN: SECRET, DL_SHORT: 'ab', DL_OTHER: 'not-passed-value' });
  assert.ok(secrets.includes(SECRET));
  assert.ok(!secrets.includes('not-passed-value'));
});

test('a secret straddling the cut to the tail never shows, whole or in part: redacted before the cut', async () => {
  const keep = 256 * 1024;
  // Before the secret more than the tail holds, after it less than the tail: the cut falls inside
  // the secret (10 of its characters would be kept). Once on stdout, once on stderr.
  const script = `
    const s = ${JSON.stringify(SECRET)};
    const text = 'A'.repeat(1000) + s + 'B'.repeat(${keep} - 10);
    process.stdout.write(text);
    process.stderr.write(text);`;
  const r = await runCommand([process.execPath, '-e', script], { cwd: tmp, timeoutMs: 10_000, env: process.env, secrets: [SECRET] });
  assert.equal(r.exitCode, 0, r.stderr.slice(0, 500));
  for (const out of [r.stdout, r.stderr]) {
    assert.deepEqual(leaks(out), [], 'no piece of the secret in the kept tail');
    assert.match(out, /^… \(\d+ characters cut\)\n/);
    assert.ok(out.endsWith('B'.repeat(1000)));
  }
});

test('redactedTail: a secret arriving across a cut made while it was half there is redacted whole', () => {
  const t = redactedTail((s) => s.split(SECRET).join('[secret redacted]'), 100);
  t.append('x'.repeat(195) + SECRET.slice(0, 10)); // past twice the tail: cut now, the secret half here
  t.append(SECRET.slice(10) + 'y'.repeat(50));
  t.append('z'.repeat(40) + SECRET.slice(0, 5));
  t.append(SECRET.slice(5) + 'w'.repeat(200)); // a cut falls inside this one
  t.append('v'.repeat(5));
  const out = t.done();
  assert.deepEqual(leaks(out), []);
  assert.ok(out.endsWith('w'.repeat(95) + 'v'.repeat(5)));
});
