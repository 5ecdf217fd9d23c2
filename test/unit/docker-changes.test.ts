/**
 * The engine's filesystem diff as dockerode hands it over: a container with no change at all gets
 * the body `null`, which dockerode passes on as a Buffer. That is an empty diff (no drift), and a
 * body that is not a list of { Path, Kind } is an error, never an empty diff.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseChanges } from '../../probes/docker.ts';
import { classifyChanges } from '../../audits/image/compare.ts';

test('the body null (as a Buffer, a string or a value) is an empty diff', () => {
  for (const body of [Buffer.from('null\n'), 'null', null, undefined, Buffer.from('')]) assert.deepEqual(parseChanges(body), []);
  // and an empty diff classifies as no drift
  assert.deepEqual(classifyChanges(parseChanges(Buffer.from('null\n')), { writablePaths: ['/tmp'], mounts: [] }), { drift: [], ignored: [] });
});

test('a list of changes, parsed or raw, is kept as it is', () => {
  const list = [
    { Path: '/etc', Kind: 0 },
    { Path: '/etc/motd', Kind: 0 },
  ];
  assert.deepEqual(parseChanges(list), list);
  assert.deepEqual(parseChanges(Buffer.from(JSON.stringify(list))), list);
  assert.deepEqual(classifyChanges(parseChanges(Buffer.from(JSON.stringify(list))), { writablePaths: [], mounts: [] }).drift, [
    { path: '/etc/motd', kind: 'changed' },
  ]);
});

test('anything else is an error that says what the engine sent, never an empty diff', () => {
  assert.throws(() => parseChanges(Buffer.from('<html>proxy error</html>')), /filesystem diff is not JSON: "<html>proxy error/);
  assert.throws(() => parseChanges({ message: 'no such container' }), /not a list of \{ Path, Kind \}/);
  assert.throws(() => parseChanges([{ path: '/etc/motd', kind: 0 }]), /not a list of \{ Path, Kind \}/);
});
