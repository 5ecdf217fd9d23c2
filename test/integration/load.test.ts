/**
 * The chaos suite's probes against the real lab: open-loop load through the cattle load balancer,
 * a closed port, the state probe (cattle keeps state in Redis; snowflake in per-process memory
 * behind round robin), a real SIGKILL under load with its replacement verdict, and a dry run that
 * the engine's own event log proves killed nothing.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { before, test } from 'node:test';
import type Docker from 'dockerode';
import { runExperiment } from '../../audits/chaos/kill-loop.ts';
import { timeToRecovery, verifyReplacements } from '../../audits/chaos/replacements.ts';
import { steadyState } from '../../audits/chaos/steady-state.ts';
import { chooseVictims } from '../../audits/chaos/victims.ts';
import { newSeed } from '../../core/seed.ts';
import { readStateKeys, writeStateKeys } from '../../probes/state-probe.ts';
import { DockerProvider } from '../../providers/docker/provider.ts';
import { connectEngine } from '../../probes/docker.ts';
import { checkSustained, errorRate, loadClock, p99, runLoad, startLoad } from '../../probes/http-load.ts';
import { sleep } from '../../probes/net.ts';
import { renderTimelineSvg } from '../../audits/chaos/timeline-chart.ts';
import { labUp, type LabUpResult } from '../../lab/lab.ts';

const CATTLE = 'http://127.0.0.1:21000'; // the lab's default port base
const SNOWFLAKE = 'http://127.0.0.1:21001';
const OPT_IN = 'driftless.chaos=opt-in';

let docker: Docker;
let lab: LabUpResult;
const fleet = (name: 'cattle' | 'snowflake') =>
  new DockerProvider({ name, labels: { 'driftless.fleet': name, 'driftless.lab.role': 'host' }, optInLabel: OPT_IN });

before(async () => {
  lab = await labUp();
  docker = await connectEngine();
});

/** A port on 127.0.0.1 with nothing listening: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

interface EngineEvent {
  id?: string;
  Action?: string;
  status?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** die/kill events of these containers in [since, until] (epoch ms), from the engine's event log. */
async function dieOrKillEvents(containerIds: string[], sinceMs: number, untilMs: number): Promise<EngineEvent[]> {
  const stream = await docker.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(untilMs / 1000),
    filters: { type: ['container'], event: ['die', 'kill'], container: containerIds },
  } as Docker.GetEventsOptions);
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) text += chunk.toString();
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EngineEvent);
}

test('50 req/s for 3 s against the cattle load balancer: 150 requests, all 200, buckets cover the window', async () => {
  const rec = await runLoad({ url: CATTLE, path: '/health', rate: 50, durationMs: 3000 });
  assert.equal(rec.records.length, 150);
  assert.deepEqual([...new Set(rec.records.map((r) => r.status))], [200]);
  assert.equal(rec.buckets.length, 30);
  assert.deepEqual(
    rec.buckets.map((b) => b.t),
    Array.from({ length: 30 }, (_, i) => i * 100),
  );
  assert.equal(
    rec.buckets.reduce((s, b) => s + b.sent, 0),
    150,
  );
  assert.ok(rec.buckets.every((b) => b.sent === 5 && b.errors === 0 && b.p50 > 0));
  assert.equal(errorRate(rec.buckets), 0);
  assert.ok(checkSustained(rec).ok, checkSustained(rec).message);
  assert.equal(rec.achievedRate, 50);
  assert.equal(rec.unsent, 0);
  assert.ok(p99(rec.records) < 1000, `p99 ${p99(rec.records)} ms`);
});

test('a closed port: every request is an error, and steadyState says the entrypoint does not answer', async () => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}`;
  const rec = await runLoad({ url, rate: 20, durationMs: 1000, timeoutMs: 500 });
  assert.equal(rec.records.length, 20);
  assert.ok(
    rec.records.every((r) => r.status === 0 && r.error === 'ECONNREFUSED'),
    JSON.stringify(rec.records.slice(0, 3)),
  );
  assert.equal(errorRate(rec.buckets), 1);

  const s = await steadyState({ url, path: '/health', warmupMs: 500, rate: 20, inventory: fleet('cattle') });
  assert.equal(s.ok, false);
  assert.equal(s.reason, `entrypoint http://127.0.0.1:${port} does not answer: ECONNREFUSED`);
});

test('steadyState of the cattle fleet: at capacity and every warm-up request OK', async () => {
  const s = await steadyState({ url: CATTLE, path: '/health', warmupMs: 1000, rate: 50, inventory: fleet('cattle') });
  assert.equal(s.ok, true, s.reason);
  assert.equal(s.running, 3);
  assert.equal(s.desired, 3);
  assert.equal(s.recording.records.length, 50);
  const short = await steadyState({ url: CATTLE, warmupMs: 300, rate: 20, inventory: fleet('cattle'), desired: 4 });
  assert.equal(short.ok, false);
  assert.match(short.reason!, /^3 of 4 hosts running in fleet "cattle"$/);
});

test('state probe against the cattle fleet (Redis behind round robin): every key reads back', async () => {
  const runId = `t${Date.now().toString(36)}`;
  const w = await writeStateKeys(CATTLE, 20, runId);
  assert.equal(w.written.length, 20);
  assert.deepEqual(w.failed, []);
  assert.match(w.written[0]!.key, new RegExp(`^dl-${runId}-0$`));
  const r = await readStateKeys(CATTLE, w.written, { readRequests: 3 });
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.changed, []);
  assert.deepEqual(r.unreadable, []);
  assert.equal(r.reads.length, 60);
  assert.ok(new Set(r.reads.map((x) => x.servedBy)).size >= 2, 'reads were spread over replicas');
});

test('state probe against the snowflake fleet (per-process memory behind round robin): lost keys are caught', async () => {
  const runId = `t${Date.now().toString(36)}`;
  const w = await writeStateKeys(SNOWFLAKE, 20, runId);
  assert.equal(w.written.length, 20);
  const r = await readStateKeys(SNOWFLAKE, w.written, { readRequests: 2 });
  assert.ok(r.missing.length > 0, `no key was missing: ${JSON.stringify(r.reads.slice(0, 6))}`);
  assert.ok(r.missing.every((k) => k.startsWith(`dl-${runId}-`)));
  assert.deepEqual(r.unreadable, []);
});

test('a cattle SIGKILL under load: back at capacity, replaced by a new instance of the same image', async (t) => {
  const inv = fleet('cattle');
  const pre = await steadyState({ url: CATTLE, warmupMs: 1000, rate: 50, inventory: inv });
  assert.equal(pre.ok, true, pre.reason);

  const run = startLoad({ url: CATTLE, path: '/health', rate: 100, durationMs: 9000, timeoutMs: 2000 });
  // Healthy capacity over time, for the chart.
  const healthy: Array<{ t: number; healthy: number }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const hosts = await inv.list().catch(() => []);
      healthy.push({ t: loadClock(run, new Date()), healthy: hosts.filter((h) => h.state === 'running').length });
      await sleep(250);
    }
  })();
  await sleep(2000);

  const before = await inv.list();
  const seed = newSeed();
  const choice = chooseVictims({ hosts: before, seed, count: 1, maxKills: 1, fleet: 'cattle' });
  t.diagnostic(`seed ${seed}: ${choice.reason}`);
  const exp = await runExperiment({
    inventory: inv,
    victims: choice.victims,
    kind: 'sigkill',
    dryRun: false,
    abortWhen: () => errorRate(run.liveBuckets().slice(-5)) > 0.5,
    recoveryDeadlineMs: 20_000,
  });
  const after = await inv.list();
  const rec = await run.done;
  sampling = false;
  await sampler;

  assert.equal(exp.aborted, false);
  assert.ok(run.liveBuckets().length >= 85, `${run.liveBuckets().length} live buckets`);
  assert.equal(exp.killed.length, 1);
  assert.ok(exp.capacity, exp.recoveryError);
  assert.deepEqual(
    exp.timeline.map((e) => e.kind),
    ['start', 'kill', 'recovered', 'end'],
  );
  const victim = choice.victims[0]!;
  const [verdict] = verifyReplacements(before, after, choice.victims, lab.images.cattle);
  assert.equal(verdict!.verdict, 'replaced', verdict!.detail);
  assert.notEqual(verdict!.newInstanceId, victim.instanceId);
  assert.equal(verdict!.digest, victim.image.id);
  assert.equal(verdict!.digest, lab.images.cattle);
  assert.ok(verdict!.newStart! > verdict!.oldStart!);

  const killAt = loadClock(rec, exp.killed[0]!.at);
  const ttr = timeToRecovery(killAt, rec.buckets, loadClock(rec, exp.capacity.reachedAt));
  assert.ok(ttr !== undefined && ttr < 20_000, `time to recovery ${ttr}`);
  t.diagnostic(
    `killed ${victim.id} at ${(killAt / 1000).toFixed(1)} s; recovered after ${ttr} ms; ` +
      `error rate ${(errorRate(rec.buckets) * 100).toFixed(2)}% of ${rec.records.length}; p99 ${p99(rec.records)} ms`,
  );

  // The engine saw the kill (the positive control for the dry-run check below).
  const events = await dieOrKillEvents([victim.instanceId], exp.timeline[0]!.t.getTime() - 1000, Date.now() + 1000);
  assert.ok(
    events.some((e) => e.Action === 'die' || e.status === 'die'),
    JSON.stringify(events),
  );

  const svg = renderTimelineSvg({ title: `cattle: sigkill ${victim.id}`, buckets: rec.buckets, healthy, desired: 3, kills: [{ t: killAt, host: victim.id }] });
  assert.match(svg, new RegExp(`>kill ${victim.id}<`));
});

test("a dry run chooses and reports victims and kills nothing (per the engine's event log)", async () => {
  const inv = fleet('cattle');
  await inv.waitForCapacity({ timeoutMs: 20_000 });
  const before = await inv.list();
  const choice = chooseVictims({ hosts: before, seed: 42, percent: 100, maxKills: 3 });
  assert.equal(choice.victims.length, 3);
  const since = Date.now();
  const exp = await runExperiment({ inventory: inv, victims: choice.victims, kind: 'sigkill', dryRun: true });
  await sleep(1500);
  const after = await inv.list();
  const until = Date.now();

  assert.deepEqual(
    exp.timeline.filter((e) => e.kind === 'dry-run').map((e) => e.host),
    choice.victims.map((v) => v.id),
  );
  assert.equal(exp.killed.length, 0);
  const events = await dieOrKillEvents(
    choice.victims.map((v) => v.instanceId),
    since - 1000,
    until,
  );
  assert.deepEqual(events, [], 'the engine logged die/kill events during the dry run');
  assert.deepEqual(
    verifyReplacements(before, after, choice.victims).map((v) => v.verdict),
    ['unchanged', 'unchanged', 'unchanged'],
  );
});
