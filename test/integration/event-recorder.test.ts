/**
 * DL-IMG-005 under churn, against the real lab and engine. The engine keeps only its last 256
 * events; after 300 more the creation of the lab's hosts is gone from it. With the lab's recorded
 * log (targets[].docker.eventLog, written with its heartbeats by dl-recorder since before the hosts were created)
 * the check is still valid: cattle passes and the snowflake's `docker exec` is still caught.
 * Without the log it is broken, naming the 256-event limit and the fix; with the recorder
 * stopped it is broken too, saying the log is not being recorded.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { eventLogPath, labUp, SNOWFLAKE_DRIFT } from '../../lab/lab.ts';
import { IMAGES, labDir, makePlan } from '../../lab/lab-plan.ts';
import { connectEngine, containerEvents } from '../../probes/docker.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-recorder-'));
const plan = makePlan();
let docker: Docker;

function config(name: string, eventLog: string | undefined): string {
  const lab = labDir();
  const fleet = (f: string, user: string) => ({
    name: f,
    provider: 'docker',
    service: `${f}-web`,
    docker: { labels: { 'driftless.fleet': f, 'driftless.lab.role': 'host' }, ...(eventLog ? { eventLog } : {}) },
    ssh: { user, identityFile: path.join(lab, 'id_ed25519'), knownHostsFile: path.join(lab, 'known_hosts') },
  });
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({ version: 1, targets: [fleet('cattle', 'audit'), fleet('snowflake', 'root')], release: { file: path.join(lab, 'release.json') } }),
  );
  return file;
}

async function imageRun(name: string, eventLog: string | undefined): Promise<Rec[]> {
  const dir = path.join(tmp, `results-${name}`);
  const r = await driftless(['run', '--suite', 'image-integrity', '--config', config(name, eventLog), '--results-dir', dir], {
    env: { DRIFTLESS_OUTPUT_DIR: path.join(tmp, `reports-${name}`) },
  });
  assert.ok(r.code === 1 || r.code === 3, r.stdout.slice(-1500) + r.stderr.slice(-800)); // the snowflake always fails
  return readRecords(dir).filter((x) => x.control === 'DL-IMG-005');
}

const of = (rs: Rec[], host: string) => rs.find((r) => r.host === host)!;

/** 300 engine events (create and destroy of 150 containers that never start): past the 256 the engine keeps. */
async function churn(): Promise<void> {
  for (let batch = 0; batch < 15; batch++) {
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const c = await docker.createContainer({
          Image: IMAGES.base,
          Cmd: ['true'],
          Labels: { 'driftless.test': 'churn' },
          HostConfig: { NetworkMode: 'none' },
        });
        await c.remove({ force: true });
      }),
    );
  }
}

before(async () => {
  docker = await connectEngine();
  await labUp();
  await churn();
});

after(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the engine alone no longer reaches back', () => {
  test('precondition: the engine has dropped the creation of dl-cattle-1', async () => {
    const info = await docker.getContainer('dl-cattle-1').inspect();
    const since = Math.floor(Date.parse(info.Created) / 1000);
    const events = await containerEvents(docker, info.Id, since, Math.ceil(Date.now() / 1000), ['create']);
    assert.deepEqual(events, [], 'the engine still holds the create event: the churn was not enough');
  });

  test('without an event log, DL-IMG-005 is broken, naming the 256-event limit and the fix', async () => {
    const rs = await imageRun('no-log', undefined);
    const r = of(rs, 'dl-cattle-1');
    assert.equal(r.outcome, 'broken', r.message);
    assert.match(r.message ?? '', /Docker keeps only its last 256 events in memory.*name the file in targets\[\]\.docker\.eventLog/);
  });
});

describe('with the recorded log', () => {
  test('the log holds every host since before its creation: cattle passes, the snowflake exec is caught', async () => {
    const rs = await imageRun('with-log', eventLogPath(plan));
    for (const h of plan.hosts.filter((x) => x.fleet === 'cattle')) {
      const r = of(rs, h.name);
      assert.equal(r.outcome, 'passed', `${h.name}: ${r.message}`);
    }
    const snow = of(rs, SNOWFLAKE_DRIFT.host);
    assert.equal(snow.outcome, 'failed', snow.message);
    assert.match(snow.message ?? '', /entered out of band: \d+ docker exec .*hotfix applied by hand/);
  });

  test('a log nobody writes any more (its recorder died): broken, saying it is not being recorded (a stale log is not a quiet one)', async () => {
    // A copy of the real log: whole up to now, but no recorder appends to it.
    const stale = path.join(tmp, 'stale-engine-events.jsonl');
    fs.copyFileSync(eventLogPath(plan), stale);
    const rs = await imageRun('stale', stale);
    const r = of(rs, 'dl-cattle-1');
    assert.equal(r.outcome, 'broken', r.message);
    assert.match(r.message ?? '', /is not being recorded: a container created at .* did not appear in it within 5 s/);
  });
});
