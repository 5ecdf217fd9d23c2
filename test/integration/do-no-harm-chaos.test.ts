/**
 * Do no harm in chaos, against the lab, with every kill counted from the Docker engine's own
 * event log: one kill budget for the whole run across fleets; a stop condition that stops the
 * next kill; chaos.seed honoured; a dry run that sends nothing and kills nothing; desired
 * capacity that a fleet losing a host cannot talk down.
 */
import assert from 'node:assert/strict';
import type Docker from 'dockerode';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { labUp, type LabUpResult } from '../../lab/lab.ts';
import { IMAGES, LABELS, labDir } from '../../lab/lab-plan.ts';
import { connectEngine } from '../../probes/docker.ts';
import { type Verdict } from '../../reports/verdict.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-no-harm-chaos-'));
let docker: Docker;
let lab: LabUpResult;
const LB = () => `http://127.0.0.1:${lab.plan.lbs.find((l) => l.fleet === 'cattle')!.port}`;

/** How many containers of the lab's cattle fleet (or with `label`) the engine says were killed in [since, now]. */
async function killsSince(since: number, labelFilter = `${LABELS.fleet}=cattle`): Promise<string[]> {
  const stream = (await docker.getEvents({
    since,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], event: ['kill'], label: [labelFilter] },
  } as never)) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const b of stream) text += String(b);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { Actor: { Attributes: { name: string } } }).Actor.Attributes.name);
}

/**
 * The entrypoint a test puts in front of the cattle load balancer: it forwards and counts every
 * request; in `fragile` mode it answers 503 for ever once any cattle container was replaced (an
 * app with no redundancy at all).
 */
async function proxy(fragile = false) {
  const ids = async () =>
    (await docker.listContainers({ filters: { label: [`${LABELS.fleet}=cattle`, `${LABELS.role}=host`] } }))
      .map((c) => c.Id)
      .sort()
      .join();
  const start = await ids();
  let broken = false;
  let watching = fragile;
  const watcher = (async () => {
    while (watching) {
      if ((await ids()) !== start) broken = true;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const counts = { requests: 0, writes: 0 };
  const server = http.createServer((req, res) => {
    counts.requests++;
    if (req.method === 'PUT') counts.writes++;
    if (broken) {
      res.statusCode = 503;
      res.end('broken since a replacement');
      return;
    }
    const up = http.request(`${LB()}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => {
      res.statusCode = 502;
      res.end();
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: async () => {
      watching = false;
      await watcher;
      server.closeAllConnections();
      server.close();
    },
  };
}

const ssh = () => ({ user: 'audit', identityFile: path.join(labDir(), 'id_ed25519'), knownHostsFile: path.join(labDir(), 'known_hosts') });
const chaos = (over: Record<string, unknown> = {}) => ({
  kill: { count: 1 },
  killIntervalSeconds: 0,
  load: { rate: 20, durationSeconds: 5, warmupSeconds: 1, path: '/health' },
  stateProbe: { keys: 5 },
  slo: { maxErrorRate: 0.2, p99Ms: 2000, recoverySeconds: 20 },
  ...over,
});

async function run(name: string, targets: unknown[], chaosCfg: Record<string, unknown>, safety: Record<string, unknown>, args: string[] = []) {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      targets,
      release: { file: path.join(labDir(), 'release.json') },
      chaos: chaosCfg,
      safety: { allowedEnvironments: ['lab'], ...safety },
    }),
  );
  const dir = path.join(tmp, `results-${name}`);
  const reports = path.join(tmp, `reports-${name}`);
  const since = Math.floor(Date.now() / 1000);
  const cli: CliResult = await driftless(['run', '--suite', 'chaos', '--config', file, '--results-dir', dir, ...args], {
    env: { DRIFTLESS_OUTPUT_DIR: reports },
    timeoutMs: 300_000,
  });
  const verdict = JSON.parse(fs.readFileSync(path.join(reports, 'verdict.json'), 'utf8')) as Verdict;
  await labUp(); // the lab is whole again for the next test (the supervisor replaces cattle)
  return { cli, verdict, results: readRecords(dir), since };
}
const check = (rs: Rec[], fleet: string, control: string) => rs.find((r) => r.fleet === fleet && r.control === control)!;

before(async () => {
  lab = await labUp();
  docker = await connectEngine();
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('one kill budget for the whole run', () => {
  test('three fleets, count 2 each, safety.maxKills 2: the engine saw exactly 2 kills; the third fleet is not checked, and says why', async () => {
    const p = await proxy();
    try {
      const slot = (n: number) => ({
        name: `cattle-${n}`,
        provider: 'docker',
        environment: 'lab',
        service: 'cattle-web',
        entrypoint: p.url,
        desiredCapacity: 1,
        docker: { labels: { [LABELS.fleet]: 'cattle', [LABELS.role]: 'host', [LABELS.slot]: String(n) } },
      });
      const r = await run('budget', [slot(1), slot(2), slot(3)], chaos({ kill: { count: 2 } }), { maxKills: 2 });
      const kills = await killsSince(r.since);
      assert.equal(kills.length, 2, `engine kill events: ${kills.join(', ')}\n${r.cli.stdout.slice(-2000)}`);
      assert.equal(r.verdict.kills[0]!.maxKills, 2);
      assert.equal(r.verdict.kills[0]!.spent.length, 2);
      assert.equal(r.cli.code, 3);
      assert.match(
        check(r.results, 'cattle-3', 'DL-CHAOS-001').message ?? '',
        /the run's kill budget is spent \(safety\.maxKills 2 spent \(cattle-1: 1, cattle-2: 1\)\)/,
      );
    } finally {
      await p.close();
    }
  });
});

describe('the stop condition stops', () => {
  test('100% errors from the first kill on: the next kill is not issued, the run says aborted, with the timeline (and chaos.seed is the seed)', async () => {
    const p = await proxy(true);
    try {
      const t = {
        name: 'cattle',
        provider: 'docker',
        environment: 'lab',
        service: 'cattle-web',
        entrypoint: p.url,
        docker: { labels: { [LABELS.fleet]: 'cattle', [LABELS.role]: 'host' } },
        ssh: ssh(),
      };
      const r = await run(
        'stop',
        [t],
        chaos({ kill: { count: 3 }, killIntervalSeconds: 2, seed: 4242, load: { rate: 20, durationSeconds: 8, warmupSeconds: 1, path: '/health' } }),
        { maxKills: 3 },
      );
      const kills = await killsSince(r.since);
      assert.equal(kills.length, 1, `engine kill events: ${kills.join(', ')}\n${r.cli.stdout.slice(-2000)}`);
      const slo = check(r.results, 'cattle', 'DL-CHAOS-004');
      assert.equal(slo.outcome, 'failed');
      assert.match(slo.message ?? '', /the experiment was aborted/);
      assert.match(r.cli.stderr, /abort: stopped killing at once: error rate over the last 1 s is 100%/);
      assert.deepEqual([r.verdict.runs[0]!.seed, r.verdict.runs[0]!.seedFrom], [4242, 'config']);
    } finally {
      await p.close();
    }
  });
});

describe('a dry run changes nothing', () => {
  test('no request sent, nothing killed, never compliant, and it says what it would have done', async () => {
    const p = await proxy();
    try {
      const t = {
        name: 'cattle',
        provider: 'docker',
        environment: 'lab',
        service: 'cattle-web',
        entrypoint: p.url,
        docker: { labels: { [LABELS.fleet]: 'cattle', [LABELS.role]: 'host' } },
      };
      const r = await run('dry', [t], chaos({ dryRun: true, kill: { count: 2 } }), { maxKills: 2 }, ['--seed', '7']);
      assert.equal(p.counts.requests, 0, 'no request reached the entrypoint');
      assert.deepEqual(await killsSince(r.since), []);
      assert.equal(r.cli.code, 3);
      assert.match(r.verdict.incomplete.join('\n'), /a dry run is never compliant/);
      assert.equal(r.verdict.kills[0]!.dryRun, true);
      assert.equal(r.verdict.kills[0]!.spent.length, 2, 'what it would have killed');
      assert.match(r.cli.stderr, /dry run: would write 5 state keys through http:\/\/127\.0\.0\.1:\d+ and read them back/);
      assert.match(r.cli.stderr, /dry run: nothing sent, nothing killed; would kill dl-cattle-\d, dl-cattle-\d/);
      assert.deepEqual([r.verdict.runs[0]!.seed, r.verdict.runs[0]!.seedFrom], [7, 'cli']);
    } finally {
      await p.close();
    }
  });
});

describe('desired capacity from the provider, never from the survivors', () => {
  const FLEET = `dl-shrink-${process.pid}`;
  after(async () => {
    for (const c of await docker.listContainers({ all: true, filters: { label: [`driftless.fleet=${FLEET}`] } }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {});
  });

  test('a fleet whose dead vanish (removed, nobody replaces them) is "Not replaced" and not back at capacity', async () => {
    for (const n of [1, 2]) {
      const c = await docker.createContainer({
        name: `${FLEET}-${n}`,
        Image: IMAGES.infra,
        Cmd: ['sleep', '600'],
        Labels: { 'driftless.fleet': FLEET, 'driftless.chaos': 'opt-in' },
        HostConfig: { NetworkMode: 'host', AutoRemove: true },
      });
      await c.start();
    }
    const t = { name: FLEET, provider: 'docker', environment: 'lab', entrypoint: LB(), docker: { labels: { 'driftless.fleet': FLEET } } };
    const r = await run('shrink', [t], chaos({ slo: { maxErrorRate: 0.2, p99Ms: 2000, recoverySeconds: 3 } }), { maxKills: 1 });
    assert.equal((await killsSince(r.since, `driftless.fleet=${FLEET}`)).length, 1);
    const recovery = check(r.results, FLEET, 'DL-CHAOS-003');
    assert.equal(recovery.outcome, 'failed', recovery.message);
    assert.match(recovery.message ?? '', /desired capacity of 2 within 3 s \(1 running\)/);
    const replaced = check(r.results, FLEET, 'DL-CHAOS-002');
    assert.equal(replaced.outcome, 'failed');
    assert.equal(replaced?.category, 'Not replaced');
  });
});
