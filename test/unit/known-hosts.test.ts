/** known_hosts as OpenSSH means it: plain and hashed entries pin, @revoked refuses, @cert-authority is not a pin. */
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fingerprintOfBlob } from '../../probes/hostkey.ts';
import { knownHostKeys } from '../../probes/known-hosts.ts';

const key = (n: number) => Buffer.concat([Buffer.from('\0\0\0\x0bssh-ed25519\0\0\0\x20'), Buffer.alloc(32, n)]);
const b64 = (n: number) => key(n).toString('base64');
const fp = (n: number) => fingerprintOfBlob(key(n));
const hashed = (host: string) => {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(host).digest('base64')}`;
};

function file(lines: string[]): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dl-kh-')), 'known_hosts');
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

test('plain and hashed entries pin the key for that host and port only', () => {
  const f = file([`[127.0.0.1]:2201 ssh-ed25519 ${b64(1)}`, `${hashed('[127.0.0.1]:2202')} ssh-ed25519 ${b64(2)}`, `10.0.0.9 ssh-ed25519 ${b64(3)}`]);
  assert.deepEqual(knownHostKeys(f, '127.0.0.1', 2201), { pinned: [fp(1)], revoked: [], certAuthority: false });
  assert.deepEqual(knownHostKeys(f, '127.0.0.1', 2202).pinned, [fp(2)]);
  assert.deepEqual(knownHostKeys(f, '10.0.0.9', 22).pinned, [fp(3)]);
  assert.deepEqual(knownHostKeys(f, '127.0.0.1', 2203).pinned, []);
});

test('a @revoked key is refused even when a line pins it', () => {
  const f = file([`[127.0.0.1]:2201 ssh-ed25519 ${b64(1)}`, `@revoked * ssh-ed25519 ${b64(1)}`]);
  const k = knownHostKeys(f, '127.0.0.1', 2201);
  assert.deepEqual(k.pinned, []);
  assert.deepEqual(k.revoked, [fp(1)]);
});

test('a @cert-authority line is not a pin of the host key', () => {
  const f = file([`@cert-authority [127.0.0.1]:2201 ssh-ed25519 ${b64(7)}`]);
  assert.deepEqual(knownHostKeys(f, '127.0.0.1', 2201), { pinned: [], revoked: [], certAuthority: true });
});
