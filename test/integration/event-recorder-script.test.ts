/**
 * lab/images/infra/event-recorder.py itself, run on this machine against the real engine (not
 * the lab's dl-recorder): it writes a start marker, then a heartbeat every 5 s while its stream
 * is open, and the log reader calls a history complete from it; frozen for longer than two
 * intervals, it leaves a gap the reader names. Its only engine traffic is two throwaway
 * containers (created, never started, no network, removed at once).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type Docker from 'dockerode';
import { IMAGES } from '../../lab/lab-plan.ts';
import { connectEngine } from '../../probes/docker.ts';
import { recordedHistory } from '../../probes/event-log.ts';
import { sleep } from '../../probes/net.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-recorder-script-'));
const file = path.join(tmp, 'engine-events.jsonl');
const script = path.resolve(import.meta.dirname, '../../lab/images/infra/event-recorder.py');
let docker: Docker;
let recorder: ChildProcess;

/** A container created and removed at once: a create and a destroy event, nothing run. */
async function throwaway(): Promise<{ id: string; createdSec: number }> {
  const c = await docker.createContainer({
    Image: IMAGES.base,
    Cmd: ['true'],
    Labels: { 'driftless.test': 'recorder-script' },
    HostConfig: { NetworkMode: 'none' },
  });
  const createdSec = Math.floor(Date.parse((await c.inspect()).Created) / 1000);
  await c.remove({ force: true });
  return { id: c.id, createdSec };
}

const lines = () =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

before(async () => {
  docker = await connectEngine();
  recorder = spawn('python3', ['-u', script, file], { stdio: 'ignore' });
  for (let i = 0; i < 150 && !(fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('recorder-start')); i++) await sleep(100);
});

after(() => {
  recorder.kill('SIGCONT');
  recorder.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('a start marker, then a heartbeat every 5 s stating its interval; a container created meanwhile has a complete history', async () => {
  const c = await throwaway();
  await sleep(11_500);
  await throwaway(); // a later line: the log covers the time after the last heartbeat too
  await sleep(500);
  const all = lines();
  assert.equal(all[0]!.driftless, 'recorder-start');
  const beats = all.filter((l) => l.driftless === 'heartbeat');
  assert.ok(beats.length >= 2, JSON.stringify(all));
  assert.ok(beats.every((b) => b.interval === 5));
  const secs = beats.map((b) => Number(b.timeNano) / 1e9);
  for (let i = 1; i < secs.length; i++) assert.ok(secs[i]! - secs[i - 1]! < 6, `heartbeats ${secs[i - 1]} and ${secs[i]}`);
  const h = recordedHistory(file, c.id, c.createdSec, ['create']);
  assert.equal(h.complete, true, h.why);
  assert.equal(h.events.length, 1);
});

test('frozen for 12 s (no new marker): the gap between heartbeats is named', async () => {
  const c = await throwaway();
  await sleep(1000); // its creation is in the log before the recorder freezes
  recorder.kill('SIGSTOP');
  await sleep(12_000);
  recorder.kill('SIGCONT');
  await sleep(6_000);
  const h = recordedHistory(file, c.id, c.createdSec, ['create']);
  assert.equal(h.complete, false);
  assert.match(h.why!, /has no heartbeat from .* to .* \(1\d s, more than twice its 5 s interval\), after the container was created/);
});
