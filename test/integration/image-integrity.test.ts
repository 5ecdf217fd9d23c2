/**
 * The image integrity suite end to end, through `driftless run`, against the real lab: cattle
 * (including a freshly replaced instance) passes every check; the snowflake's hand-applied
 * hotfix is caught by the engine's diff and by the golden manifest read over SSH, and the
 * `docker exec` that applied it is flagged; its writable root is flagged; a container carrying
 * the right TAG but another digest is caught; an image the release never declared is reported
 * with its digest. Then a second run, with one test host fixed and one broken in between, against
 * the first run's verdict: the new and fixed violations in the verdict, the job summary, JUnit and
 * SARIF. EC2: image-integrity-ec2.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type Docker from 'dockerode';
import { labUp, SNOWFLAKE_DRIFT } from '../../lab/lab.ts';
import { IMAGES, LAB_MANIFEST_EXCLUDES, LAB_METADATA_ONLY, LABELS, labDir, makePlan } from '../../lab/lab-plan.ts';
import { connectEngine } from '../../probes/docker.ts';
import { httpGet, sleep, sshBanner } from '../../probes/net.ts';
import { readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-image-integrity-'));
const resultsDir = path.join(tmp, 'results');
const TEST_FLEET = `dl-imgtest-${process.pid}`;
const TEST_LABEL = 'driftless.test';
const VARIANT = { repo: 'driftless-test/web', tag: 'cattle' };
const IMPOSTER = `dl-imgtest-imposter-${process.pid}`;
const UNDECLARED = `dl-imgtest-undeclared-${process.pid}`;
/** Runs the declared image in the first run and the look-alike variant in the second. */
const FLIP = `dl-imgtest-flip-${process.pid}`;
const UNDECLARED_SERVICE = 'dl-undeclared-svc';
const REPLACED = 'dl-cattle-3';
const OOB_MARK = `out-of-band-${process.pid}`;
const HISTORY_GONE = /event log no longer reaches back to the creation/;
const CONTROL_COUNT = 11; // docker hosts: DL-IMG-001..006, the engine controls 010..013, and only-the-image-runs 017

let docker: Docker;
let run: CliResult;
let results: Rec[];
let declaredCattle: string;
let variantId: string;
let baseId: string;
let replacedOld: string;
let replacedNew: string;

const of = (host: string) => results.filter((r) => r.host === host);
const check = (host: string, control: string): Rec => {
  const r = of(host).filter((x) => x.control === control);
  assert.equal(r.length, 1, `exactly one ${control} result for ${host} (got ${r.length})`);
  return r[0]!;
};
const msg = (r: Rec) => r.message ?? '';

async function sleeper(name: string, image: string, service: string): Promise<void> {
  const c = await docker.createContainer({
    name,
    Image: image,
    Entrypoint: ['sleep'],
    Cmd: ['600'],
    Labels: { 'driftless.fleet': TEST_FLEET, 'driftless.service': service, [TEST_LABEL]: 'image-integrity' },
    HostConfig: { NetworkMode: 'host', ReadonlyRootfs: true, AutoRemove: false },
  });
  await c.start();
}

/** Kills a cattle host and waits until the supervisor's replacement (a new container) is healthy. */
async function replaceCattle(name: string): Promise<{ old: string; fresh: string }> {
  const spec = makePlan().hosts.find((h) => h.name === name)!;
  const old = (await docker.getContainer(name).inspect()).Id;
  await docker.getContainer(old).kill({ signal: 'SIGKILL' });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    await sleep(500);
    const info = await docker
      .getContainer(name)
      .inspect()
      .catch(() => undefined);
    if (!info || info.Id === old || !info.State.Running) continue;
    const [http, ssh] = await Promise.all([httpGet(`http://127.0.0.1:${spec.httpPort}/health`, 1000), sshBanner(spec.sshPort, '127.0.0.1', 1000)]);
    if (http.ok && ssh) return { old, fresh: info.Id };
  }
  throw new Error(`${name} was not replaced by a healthy new container within 90 s`);
}

before(async () => {
  await labUp();
  docker = await connectEngine();
  const lab = labDir();
  declaredCattle = (JSON.parse(fs.readFileSync(path.join(lab, 'release.json'), 'utf8')) as { services: Record<string, { digest: string }> }).services[
    'cattle-web'
  ]!.digest;

  // A variant of the cattle image with one extra file, tagged so it LOOKS like cattle.
  const build = await docker.createContainer({
    Image: IMAGES.cattle,
    Entrypoint: ['sh', '-c', 'echo planted > /opt/app/PLANTED'],
    User: '0',
    Labels: { [TEST_LABEL]: 'image-integrity' },
    HostConfig: { NetworkMode: 'host' },
  });
  await build.start();
  await build.wait();
  variantId = ((await build.commit({ repo: VARIANT.repo, tag: VARIANT.tag })) as { Id: string }).Id;
  await build.remove({ force: true });
  baseId = (await docker.getImage(IMAGES.base).inspect()).Id;
  assert.notEqual(variantId, declaredCattle);

  await sleeper(IMPOSTER, `${VARIANT.repo}:${VARIANT.tag}`, 'cattle-web');
  await sleeper(UNDECLARED, IMAGES.base, UNDECLARED_SERVICE);
  await sleeper(FLIP, IMAGES.cattle, 'cattle-web');
  // restarted in place by hand: a second start event of the same container (RestartCount stays 0)
  await docker.getContainer(UNDECLARED).restart({ t: 0 });

  ({ old: replacedOld, fresh: replacedNew } = await replaceCattle(REPLACED));
  // out-of-band access to a test host, just before the run (so the engine still holds the event)
  const exec = await docker.getContainer(IMPOSTER).exec({ Cmd: ['sh', '-c', `echo ${OOB_MARK}`], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.resume();
  });

  const key = path.join(lab, 'id_ed25519');
  const knownHostsFile = path.join(lab, 'known_hosts');
  const config = {
    version: 1,
    targets: [
      {
        name: 'cattle',
        provider: 'docker',
        service: 'cattle-web',
        docker: { labels: { [LABELS.fleet]: 'cattle', [LABELS.role]: 'host' } },
        ssh: { user: 'audit', identityFile: key, knownHostsFile },
      },
      {
        name: 'snowflake',
        provider: 'docker',
        service: 'snowflake-web',
        docker: { labels: { [LABELS.fleet]: 'snowflake', [LABELS.role]: 'host' } },
        ssh: { user: 'root', identityFile: key, knownHostsFile },
      },
      // test-only containers without sshd: only their DL-IMG-001 is asserted
      { name: 'imgtest', provider: 'docker', service: 'cattle-web', docker: { labels: { 'driftless.fleet': TEST_FLEET } } },
    ],
    release: { file: path.join(lab, 'release.json') },
    policy: {
      ssh: { mode: 'read-only', immutablePaths: ['/etc', '/usr/bin', '/opt/app'], writablePaths: ['/tmp', '/run'], concurrency: 8 },
      manifest: { excludes: LAB_MANIFEST_EXCLUDES, metadataOnly: LAB_METADATA_ONLY },
    },
  };
  const file = path.join(tmp, 'driftless.config.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  // The second run (the last test) audits only the test fleet, against this one's verdict.
  fs.writeFileSync(configNext, JSON.stringify({ ...config, targets: config.targets.filter((t) => t.name === 'imgtest') }, null, 2));
  run = await runImageIntegrity(file, resultsDir);
  results = readRecords(resultsDir);
});

const configNext = path.join(tmp, 'driftless.next.config.json');
const runImageIntegrity = (config: string, dir: string, extra: string[] = [], env: Record<string, string> = {}): Promise<CliResult> =>
  driftless(['run', '--suite', 'image-integrity', '--config', config, '--results-dir', dir, ...extra], {
    env: {
      DRIFTLESS_RESULTS_DIR: dir,
      DRIFTLESS_RUN_ID: undefined,
      DRIFTLESS_RUN_DIR: undefined,
      DRIFTLESS_SEED: undefined,
      DRIFTLESS_STARTED_AT: undefined,
      DRIFTLESS_CONFIG: undefined,
      GITHUB_STEP_SUMMARY: undefined,
      ...env,
    },
    timeoutMs: 600_000,
  });

after(async () => {
  for (const name of [IMPOSTER, UNDECLARED, FLIP])
    await docker
      ?.getContainer(name)
      .remove({ force: true })
      .catch(() => {});
  const strays = (await docker?.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=image-integrity`] } })) ?? [];
  for (const c of strays)
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
  await docker
    ?.getImage(`${VARIANT.repo}:${VARIANT.tag}`)
    .remove({ force: true })
    .catch(() => {});
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the run ends with exit 1 (violations found) and prints live progress', () => {
  assert.equal(run.code, 1, `${run.stdout.slice(-2000)}\n${run.stderr.slice(-3000)}`);
  assert.match(run.stderr, /\[driftless image-integrity\] \d+\/\d+ hosts done/);
});

test('every cattle host passes every check (a freshly replaced one included)', () => {
  for (const host of ['dl-cattle-1', 'dl-cattle-2', REPLACED]) {
    const rs = of(host);
    assert.equal(rs.length, CONTROL_COUNT, `${host}: ${rs.map((r) => r.control).join(', ')}`);
    for (const r of rs) {
      // An older container's exec history may have left the engine's in-memory event log (other
      // lab users generate events): then DL-IMG-005 can only be broken, never passed. The fresh
      // replacement's history is always complete.
      if (host !== REPLACED && r.control === 'DL-IMG-005' && r.outcome === 'broken' && HISTORY_GONE.test(msg(r))) continue;
      assert.equal(r.outcome, 'passed', `${host} ${r.control}: ${msg(r)}`);
    }
  }
});

test(`the replacement ${REPLACED} was audited as the new container, not the killed one`, () => {
  assert.notEqual(replacedNew, replacedOld);
  const snap = (JSON.parse(fs.readFileSync(path.join(resultsDir, 'driftless-run.json'), 'utf8')) as { inventory: unknown }).inventory as Array<{
    target: string;
    hosts: Array<{ id: string; instanceId: string }>;
  }>;
  const h = snap.find((s) => s.target === 'cattle')!.hosts.find((x) => x.id === REPLACED);
  assert.equal(h?.instanceId, replacedNew);
});

test(`dl-snowflake-1: the engine's diff lists exactly ${SNOWFLAKE_DRIFT.path} as drift`, () => {
  const r = check(SNOWFLAKE_DRIFT.host, 'DL-IMG-002');
  assert.equal(r.outcome, 'failed');
  assert.match(msg(r), new RegExp(`: 1 entries: changed ${SNOWFLAKE_DRIFT.path}\\n?`));
  assert.equal(check('dl-snowflake-2', 'DL-IMG-002').outcome, 'passed', msg(check('dl-snowflake-2', 'DL-IMG-002')));
});

test(`dl-snowflake-1: the golden manifest read over SSH differs in exactly ${SNOWFLAKE_DRIFT.path} (and the writable bind's mount point)`, () => {
  const r = check(SNOWFLAKE_DRIFT.host, 'DL-IMG-006');
  assert.equal(r.outcome, 'failed');
  assert.match(msg(r), new RegExp(`: 2 entries: added /opt/app/uploads, changed ${SNOWFLAKE_DRIFT.path} \\([a-z0-9, ]*sha256[a-z0-9, ]*\\)`));
  assert.equal(check('dl-snowflake-2', 'DL-IMG-006').outcome, 'passed', msg(check('dl-snowflake-2', 'DL-IMG-006')));
});

test('a docker exec into a host is flagged, with its command', () => {
  const r = check(IMPOSTER, 'DL-IMG-005');
  assert.equal(r.outcome, 'failed');
  assert.match(msg(r), /was entered out of band: 1 docker exec/);
  assert.ok(msg(r).includes(`sh -c echo ${OOB_MARK}`), msg(r));
  assert.equal(r.violation, 'out-of-band-access');
});

test('dl-snowflake-1: the docker exec that applied the hotfix is flagged (or, once the engine dropped it, never passed)', () => {
  const r = check(SNOWFLAKE_DRIFT.host, 'DL-IMG-005');
  if (r.outcome === 'broken') {
    assert.match(msg(r), HISTORY_GONE);
    return;
  }
  assert.equal(r.outcome, 'failed', msg(r));
  assert.match(msg(r), /was entered out of band: \d+ docker exec/);
});

test('snowflake: a writable root filesystem is flagged on both hosts', () => {
  for (const host of ['dl-snowflake-1', 'dl-snowflake-2']) {
    const r = check(host, 'DL-IMG-003');
    assert.equal(r.outcome, 'failed');
    assert.match(msg(r), /writable root filesystem/);
  }
});

test('snowflake and cattle run their declared images; nothing in the lab fleets is broken', () => {
  for (const host of ['dl-snowflake-1', 'dl-snowflake-2']) assert.equal(check(host, 'DL-IMG-001').outcome, 'passed', msg(check(host, 'DL-IMG-001')));
  const lab = results.filter((r) => r.fleet === 'cattle' || r.fleet === 'snowflake');
  assert.equal(lab.length, 5 * CONTROL_COUNT);
  for (const r of lab) {
    if (r.control === 'DL-IMG-005' && HISTORY_GONE.test(msg(r))) continue; // see the cattle test
    assert.notEqual(r.outcome, 'broken', `${r.host} ${r.control}: ${msg(r)}`);
  }
});

test(`a container tagged ${VARIANT.repo}:${VARIANT.tag} but of another digest is caught`, () => {
  const r = check(IMPOSTER, 'DL-IMG-001');
  assert.equal(r.outcome, 'failed');
  assert.ok(msg(r).includes(`runs image ${variantId}`), msg(r));
  assert.ok(msg(r).includes(`${VARIANT.repo}:${VARIANT.tag}`), msg(r));
  assert.ok(msg(r).includes(`the release declares ${declaredCattle}`), msg(r));
  assert.equal(r.violation, 'wrong-image');
});

test('an image the release never declared is reported with its digest', () => {
  const r = check(UNDECLARED, 'DL-IMG-001');
  assert.equal(r.outcome, 'failed');
  assert.ok(msg(r).includes(`image ${baseId} is not declared in the release (service ${UNDECLARED_SERVICE})`), msg(r));
  assert.equal(r.violation, 'undeclared-image');
});

test('the test hosts without sshd are reported broken for the manifest check, never passed; their empty engine diff is no drift', () => {
  for (const host of [IMPOSTER, UNDECLARED]) {
    const r = check(host, 'DL-IMG-006');
    assert.equal(r.outcome, 'broken', msg(r));
    assert.equal(r.category, 'Probe error');
    assert.match(msg(r), new RegExp(`^${host}: the golden manifest could not be compared: `));
    // A read-only container with no change at all: the engine answers its diff with `null`, which is no drift.
    assert.equal(check(host, 'DL-IMG-002').outcome, 'passed', msg(check(host, 'DL-IMG-002')));
  }
});

test('a container restarted in place (a second start event) is flagged; the never-restarted one is not', () => {
  const r = check(UNDECLARED, 'DL-IMG-004');
  assert.equal(r.outcome, 'failed');
  assert.match(msg(r), /restarted in place, not replaced: RestartCount 0, 2 start events/);
  assert.equal(check(IMPOSTER, 'DL-IMG-004').outcome, 'passed', msg(check(IMPOSTER, 'DL-IMG-004')));
});

test(`dl-snowflake-1: the manifest evidence carries a unified diff of ${SNOWFLAKE_DRIFT.path}`, () => {
  const r = check(SNOWFLAKE_DRIFT.host, 'DL-IMG-006');
  const a = r.attachments.find((x) => x.name === `diff ${SNOWFLAKE_DRIFT.path}`);
  assert.ok(a, `attachments: ${r.attachments.map((x) => x.name).join(', ')}`);
  assert.equal(a.contentType, 'text/x-diff');
  const diff = a.body;
  assert.match(diff, /^\+# hotfix applied by hand$/m);
});

test('the next run, one host fixed and one broken in between, lists them as fixed and new in the verdict, summary, JUnit and SARIF', async () => {
  assert.equal(check(FLIP, 'DL-IMG-001').outcome, 'passed', msg(check(FLIP, 'DL-IMG-001')));
  // Fixed: the imposter is replaced by a container of the declared image (same host name).
  // Broken: the flip host is replaced by the look-alike variant.
  await docker.getContainer(IMPOSTER).remove({ force: true });
  await docker.getContainer(FLIP).remove({ force: true });
  await sleeper(IMPOSTER, IMAGES.cattle, 'cattle-web');
  await sleeper(FLIP, `${VARIANT.repo}:${VARIANT.tag}`, 'cattle-web');
  const next = path.join(tmp, 'results-next');
  const stepSummary = path.join(tmp, 'step-summary.md');
  const second = await runImageIntegrity(configNext, next, ['--baseline', path.join(resultsDir, 'verdict.json'), '--output', 'junit,sarif,summary'], {
    GITHUB_STEP_SUMMARY: stepSummary,
  });
  assert.equal(second.code, 1, `${second.stdout.slice(-2000)}\n${second.stderr.slice(-3000)}`);

  type Entry = { id: string; control: string; host?: string; message: string };
  const verdict = JSON.parse(fs.readFileSync(path.join(next, 'verdict.json'), 'utf8')) as {
    runId: string;
    changes: { baseline: { runId: string }; newViolations: Entry[]; fixed: Entry[]; stillFailing: Entry[]; unresolved: Array<Entry & { now: string }> };
  };
  const firstRunId = (JSON.parse(fs.readFileSync(path.join(resultsDir, 'verdict.json'), 'utf8')) as { runId: string }).runId;
  const ch = verdict.changes;
  assert.equal(ch.baseline.runId, firstRunId);
  const pairs = (xs: Entry[]) => xs.map((x) => `${x.host} ${x.control}`).sort();
  assert.deepEqual(pairs(ch.newViolations), [`${FLIP} DL-IMG-001`], JSON.stringify(ch.newViolations));
  assert.deepEqual(pairs(ch.fixed), [`${IMPOSTER} DL-IMG-001`, `${IMPOSTER} DL-IMG-005`], JSON.stringify(ch.fixed));
  assert.ok(pairs(ch.stillFailing).includes(`${UNDECLARED} DL-IMG-001`), JSON.stringify(ch.stillFailing));
  // The lab fleets were not audited this time: their violations are not fixed, only not owed.
  const snowflake = ch.unresolved.filter((x) => x.host === SNOWFLAKE_DRIFT.host && x.control === 'DL-IMG-002');
  assert.equal(snowflake.length, 1, JSON.stringify(ch.unresolved));
  assert.match(snowflake[0]!.now, /not owed/);
  assert.ok(!pairs(ch.fixed).some((p) => p.startsWith('dl-snowflake')), 'an unaudited fleet is never fixed');
  const flipId = ch.newViolations[0]!.id;

  // The job summary, written to outputs/ and appended to $GITHUB_STEP_SUMMARY.
  const summary = fs.readFileSync(path.join(next, 'outputs', 'summary.md'), 'utf8');
  assert.equal(fs.readFileSync(stepSummary, 'utf8').trim(), summary.trim());
  assert.match(summary, new RegExp(`Since run \`${firstRunId}\``));
  assert.match(summary, /1 new violations, 2 fixed/);
  // Each section's entries: the lines after its title, up to the next title.
  const section = (title: string) => summary.split(`${title}\n\n`)[1]!.split('\n\n')[0]!.split('\n');
  const newLines = section('**New violations**');
  assert.equal(newLines.length, 1, summary);
  assert.ok(newLines[0]!.startsWith('- 🆕 NEW ') && newLines[0]!.includes(FLIP) && newLines[0]!.includes('DL-IMG-001'), newLines[0]);
  const fixedLines = section('**Fixed**');
  assert.equal(fixedLines.length, 2, summary);
  assert.ok(
    fixedLines.every((l) => l.startsWith('- ✅ FIXED ') && l.includes(IMPOSTER)),
    fixedLines.join('\n'),
  );

  // JUnit: the new violation's failure says NEW; the fixed checks pass and say FIXED.
  const junit = fs.readFileSync(path.join(next, 'outputs', 'junit.xml'), 'utf8');
  const testcase = (host: string, control: string) => {
    const m = new RegExp(`<testcase classname="imgtest\\.${host}" name="${control}[^"]*"[^>]*?(/>|>([\\s\\S]*?)</testcase>)`).exec(junit);
    assert.ok(m, `no JUnit testcase for ${host} ${control}`);
    return m[2] ?? '';
  };
  assert.match(testcase(FLIP, 'DL-IMG-001'), new RegExp(`<failure [^>]*message="NEW since run ${firstRunId}: `));
  for (const control of ['DL-IMG-001', 'DL-IMG-005']) {
    const body = testcase(IMPOSTER, control);
    assert.doesNotMatch(body, /<failure|<error/, body);
    assert.match(body, new RegExp(`FIXED since run ${firstRunId}`), body);
  }
  assert.doesNotMatch(testcase(UNDECLARED, 'DL-IMG-001'), /NEW since/);

  // SARIF: the new violation is baselineState new, the still-failing one unchanged, the fixed ones in the run's properties.
  const sarif = JSON.parse(fs.readFileSync(path.join(next, 'outputs', 'driftless.sarif'), 'utf8')) as {
    runs: Array<{
      results: Array<{ ruleId: string; baselineState?: string; properties: { host?: string } }>;
      properties: { newViolations: string[]; fixed: Array<{ host?: string; control: string }> };
    }>;
  };
  const sr = sarif.runs[0]!;
  const state = (host: string, control: string) => sr.results.filter((r) => r.properties.host === host && r.ruleId === control).map((r) => r.baselineState);
  assert.deepEqual(state(FLIP, 'DL-IMG-001'), ['new']);
  assert.deepEqual(state(UNDECLARED, 'DL-IMG-001'), ['unchanged']);
  assert.deepEqual(state(IMPOSTER, 'DL-IMG-001'), [], 'a fixed violation is no SARIF result');
  assert.deepEqual(sr.properties.newViolations, [flipId]);
  assert.deepEqual(sr.properties.fixed.map((x) => `${x.host} ${x.control}`).sort(), [`${IMPOSTER} DL-IMG-001`, `${IMPOSTER} DL-IMG-005`]);
  assert.match(second.stdout + second.stderr, /1 new violation/);
});
