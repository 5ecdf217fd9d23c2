/**
 * State-probe keys are deleted from the target's store after they are read, and a deletion that
 * fails is reported in the outcome. Against real HTTP servers: a small one here, and the lab's own
 * app (lab/images/app/server.py, in-memory store) run with python3.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT } from '../../core/paths.ts';
import { readStateKeys, writeStateKeys } from '../../probes/state-probe.ts';

/** A key-value store over HTTP; `deletes: false` answers DELETE like an app that has none (405). */
async function store(t: { after: (fn: () => unknown) => void }, deletes = true): Promise<{ url: string; keys: Map<string, string> }> {
  const keys = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const key = (req.url ?? '').replace(/^\/state\//, '');
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString()));
    req.on('end', () => {
      if (req.method === 'PUT') keys.set(key, body);
      if (req.method === 'GET' && !keys.has(key)) return res.writeHead(404).end();
      if (req.method === 'DELETE') {
        if (!deletes) return res.writeHead(405).end();
        if (!keys.delete(key)) return res.writeHead(404).end();
      }
      res.writeHead(200, { 'x-served-by': 'one' }).end(req.method === 'GET' ? keys.get(key) : '{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, keys };
}

describe('state-probe keys are deleted after they are read', () => {
  test('every key written is deleted once read: the store holds none of them afterwards', async (t) => {
    const s = await store(t);
    const w = await writeStateKeys(s.url, 5, 'run1');
    assert.equal(s.keys.size, 5);
    const r = await readStateKeys(s.url, w.written);
    assert.deepEqual(r.missing, []);
    assert.deepEqual(r.cleanup, { deleted: w.written.map((k) => k.key), absent: [], failed: [] });
    assert.equal(s.keys.size, 0, 'nothing of the probe is left in the store');
  });

  test('a target that cannot delete: every key is reported left, with the answer', async (t) => {
    const s = await store(t, false);
    const w = await writeStateKeys(s.url, 3, 'run2');
    const r = await readStateKeys(s.url, w.written);
    assert.deepEqual(r.cleanup.deleted, []);
    assert.deepEqual(
      r.cleanup.failed.map((f) => f.error),
      ['DELETE answered 405', 'DELETE answered 405', 'DELETE answered 405'],
    );
    assert.equal(s.keys.size, 3);
  });

  test('keys a write failed for are deleted too (the store may have taken them), and a key already gone is absent', async (t) => {
    const s = await store(t);
    const w = await writeStateKeys(s.url, 2, 'run3');
    s.keys.set('dl-run3-9', 'x'); // a PUT that timed out after the store took it
    s.keys.delete('dl-run3-1'); // lost
    const r = await readStateKeys(s.url, w.written, { alsoDelete: ['dl-run3-9'] });
    assert.deepEqual(r.missing, ['dl-run3-1']);
    assert.deepEqual(r.cleanup, { deleted: ['dl-run3-0', 'dl-run3-9'], absent: ['dl-run3-1'], failed: [] });
    assert.equal(s.keys.size, 0);
  });

  test('the store unreachable when deleting: failed, with the network error', async () => {
    const r = await readStateKeys('http://127.0.0.1:1', [{ key: 'dl-x-0', value: 'v' }], { readRequests: 1, timeoutMs: 500 });
    assert.equal(r.cleanup.failed.length, 1);
    assert.match(r.cleanup.failed[0]!.error, /^DELETE failed: /);
  });

  test("the lab's app (server.py) deletes a key: DELETE 200, then 404", async (t) => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const app = spawn('python3', [path.join(REPO_ROOT, 'lab/images/app/server.py')], {
      env: { ...process.env, HTTP_PORT: String(port), STATE_BACKEND: 'memory', INSTANCE_NAME: 'unit' },
      stdio: 'ignore',
    });
    t.after(() => app.kill());
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if (
        await fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const w = await writeStateKeys(url, 3, 'lab');
    assert.equal(w.written.length, 3, JSON.stringify(w.failed));
    const r = await readStateKeys(url, w.written, { readRequests: 1 });
    assert.deepEqual(r.missing, []);
    assert.deepEqual(r.cleanup, { deleted: ['dl-lab-0', 'dl-lab-1', 'dl-lab-2'], absent: [], failed: [] });
    assert.equal((await fetch(`${url}/state/dl-lab-0`)).status, 404, 'gone from the store');
    assert.equal((await fetch(`${url}/state/dl-lab-0`, { method: 'DELETE' })).status, 404, 'a second DELETE finds nothing');
  });
});
