/**
 * Why an inode-change-time sweep (bench/ctime.ts, issue #17 item 6) would be sound: a rewrite
 * that keeps the size and puts the old mtime back with `touch -d` leaves every field a manifest
 * compares except the hash unchanged, but it still moves the ctime, which no user command can set
 * back; so `find -newerct <creation>` still picks the file for hashing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-ctime-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const ns = (n: bigint) => `${n / 1_000_000_000n}.${String(n % 1_000_000_000n).padStart(9, '0')}`;

test('a same-size, same-mtime rewrite still changes ctime, and find -newerct picks it', async () => {
  const file = path.join(dir, 'app.conf');
  const other = path.join(dir, 'untouched.conf');
  fs.writeFileSync(file, 'listen 127.0.0.1\n');
  fs.writeFileSync(other, 'left alone\n');
  fs.utimesSync(file, new Date('2024-01-02T03:04:05Z'), new Date('2024-01-02T03:04:05Z')); // an image's old mtime
  await sleep(100);
  // "The host was created": ctime comes from a coarse clock (a tick behind), so a little slack.
  const since = Date.now() / 1000 - 0.05;
  await sleep(100);
  const before = fs.statSync(file, { bigint: true });
  const oldHash = sha(file);

  fs.writeFileSync(file, 'listen 0.0.0.0:1\n'); // same length, other bytes
  const touch = spawnSync('touch', ['-d', `@${ns(before.mtimeNs)}`, file]); // the old mtime back
  assert.equal(touch.status, 0, touch.stderr.toString());

  const now = fs.statSync(file, { bigint: true });
  // Everything a metadata-only comparison (or an mtime+size check such as rsync's) looks at is the same...
  for (const k of ['size', 'mode', 'uid', 'gid', 'ino', 'mtimeNs'] as const) assert.equal(now[k], before[k], k);
  assert.notEqual(sha(file), oldHash, 'but the content changed');
  // ...except the inode change time, which touch -d could not set back.
  assert.ok(now.ctimeNs > before.ctimeNs, `ctime ${ns(now.ctimeNs)} after ${ns(before.ctimeNs)}`);
  assert.ok(Number(now.ctimeNs) / 1e9 > since);

  const found = spawnSync('find', [dir, '-type', 'f', '-newerct', `@${since.toFixed(3)}`], { encoding: 'utf8' });
  assert.equal(found.status, 0, found.stderr);
  assert.deepEqual(found.stdout.split('\n').filter(Boolean), [file], 'the rewritten file is a candidate, the untouched one is not');
});

test('touch -d, chmod and a rename each move ctime too; only the clock could set it back', async () => {
  const file = path.join(dir, 'tool');
  fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o755 });
  let last = fs.statSync(file, { bigint: true }).ctimeNs;
  const moved = (what: string) => {
    const c = fs.statSync(file, { bigint: true }).ctimeNs;
    assert.ok(c > last, `${what} moved ctime`);
    last = c;
  };
  await sleep(20);
  assert.equal(spawnSync('touch', ['-d', '2000-01-01T00:00:00Z', file]).status, 0);
  moved('touch -d into the past');
  await sleep(20);
  fs.chmodSync(file, 0o755); // the same mode again
  moved('chmod to the same mode');
  await sleep(20);
  fs.renameSync(file, `${file}.new`);
  fs.renameSync(`${file}.new`, file);
  moved('a rename there and back');
});
