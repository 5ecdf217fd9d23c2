/**
 * Canary names are this run's alone: the sweep removes exactly the names this run writes, never
 * a concurrent run's whose id merely starts with this one's. Run with `sh` against real files.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { canaryNames, catalogue, parseSweep, sweepCommand } from '../../probes/edits.ts';

test("the sweep removes this run's canaries and no other run's, even one whose id extends this one's", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-canary-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const mine = canaryNames('abc');
  // Concurrent runs: "abcdef" extends "abc", and "abc-mode" would collide with a "<id>-mode" suffix.
  const theirs = [...canaryNames('abcdef'), ...canaryNames('abc-mode'), ...canaryNames('abc.1'), '.driftless-canary-abc-leftover'];
  for (const n of [...mine, ...theirs]) fs.writeFileSync(path.join(dir, n), 'x');
  const out = execFileSync('sh', ['-c', sweepCommand('abc', [dir])], { encoding: 'utf8' });
  const r = parseSweep(out);
  assert.equal(r.finished, true);
  assert.deepEqual(r.removed.sort(), mine.map((n) => path.join(dir, n)).sort());
  assert.deepEqual(fs.readdirSync(dir).sort(), [...new Set(theirs)].sort(), "every other run's canary is still there");
});

test("every name the catalogue writes is one the sweep looks for, and names no other run's", () => {
  const edits = catalogue({ runId: 'abc', immutablePaths: ['/etc'], home: '/home/a', aggressive: true });
  const written = edits.flatMap((e) => [...e.command.matchAll(/\.driftless-canary-[^'"/ ;]*/g)].map((m) => m[0]));
  assert.ok(written.length >= 2);
  for (const n of written) assert.ok(canaryNames('abc').includes(n), `${n} is swept`);
  const all = ['abcdef', 'abc-mode', 'ab', 'abc.mode', 'abc_mode'].flatMap(canaryNames);
  for (const n of canaryNames('abc')) assert.ok(!all.includes(n), `${n} belongs to run abc only`);
});

test('a run id outside the letters, digits, . _ - of --run-id is refused (names must stay unambiguous)', () => {
  assert.throws(() => canaryNames('a+mode'), /run id/);
  assert.throws(() => canaryNames(''), /run id/);
  assert.throws(() => canaryNames('a/b'), /run id/);
});
