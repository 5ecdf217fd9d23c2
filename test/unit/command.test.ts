/** The local command runner (a deploy): output decoded across chunks, line by line. */
import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { runCommand } from '../../probes/command.ts';

test('a UTF-8 character split between two writes decodes whole, in the output and in the lines', async () => {
  // Writes "café\n" to stdout and stderr, cutting é between its two bytes, 50 ms apart.
  const script = `
    const b = Buffer.from('café\\n');
    const cut = b.indexOf(0xc3) + 1;
    process.stdout.write(b.subarray(0, cut));
    process.stderr.write(b.subarray(0, cut));
    setTimeout(() => { process.stdout.write(b.subarray(cut)); process.stderr.write(b.subarray(cut)); }, 50);`;
  const lines: string[] = [];
  const r = await runCommand([process.execPath, '-e', script], { cwd: os.tmpdir(), timeoutMs: 10_000, onLine: (l) => lines.push(l) });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, 'café\n');
  assert.equal(r.stderr, 'café\n');
  assert.deepEqual(lines, ['café', 'café']);
});
