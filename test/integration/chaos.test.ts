/**
 * The chaos suite end to end through `driftless run` against the real lab. The config opts every
 * lab host in (safety.optInLabel driftless.lab.role=host) so the snowflake can be a victim:
 * cattle passes; snowflake's state loss and "restarted in place, not replaced" are both caught.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { eventLogPath, labUp } from '../../lab/lab.ts';
import { LAB_MANIFEST_EXCLUDES, LAB_METADATA_ONLY, labDir, makePlan } from '../../lab/lab-plan.ts';
import { evidence, readRecords, type Rec } from '../helpers/records.ts';
import { driftless, type CliResult } from '../helpers/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-chaos-'));
const resultsDir = path.join(tmp, 'results');
let run: CliResult;
let results: Rec[];

const find = (fleet: string, control: string) => results.find((r) => r.fleet === fleet && r.control === control);

before(async () => {
  await labUp();
  const lab = labDir();
  const ssh = { user: 'audit', identityFile: path.join(lab, 'id_ed25519'), knownHostsFile: path.join(lab, 'known_hosts') };
  const fleet = (name: string, port: number) => ({
    name,
    provider: 'docker',
    environment: 'lab',
    service: `${name}-web`,
    entrypoint: `http://127.0.0.1:${port}`,
    docker: { labels: { 'driftless.fleet': name, 'driftless.lab.role': 'host' }, eventLog: eventLogPath(makePlan()) },
    ssh,
  });
  const config = {
    version: 1,
    targets: [fleet('cattle', 21000), fleet('snowflake', 21001)], // the lab's default port base
    release: { file: path.join(lab, 'release.json') },
    // As the lab config has it: the replacements are audited like any host of the lab.
    policy: { manifest: { excludes: LAB_MANIFEST_EXCLUDES, metadataOnly: LAB_METADATA_ONLY } },
    chaos: {
      kill: { count: 1 },
      kinds: ['sigkill'],
      dryRun: false,
      load: { rate: 40, durationSeconds: 6, warmupSeconds: 2, path: '/health' },
      stateProbe: { keys: 10 },
      slo: { maxErrorRate: 0.05, p99Ms: 1000, recoverySeconds: 20 },
      abortErrorRate: 0.9,
    },
    safety: { optInLabel: 'driftless.lab.role=host', maxKills: 2, allowedEnvironments: ['lab'] }, // one budget for the run: one kill per fleet
  };
  const file = path.join(tmp, 'chaos.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  run = await driftless(['run', '--suite', 'chaos', '--config', file, '--results-dir', resultsDir, '--seed', '7'], {
    env: { DRIFTLESS_RUN_ID: undefined, DRIFTLESS_RUN_DIR: undefined, DRIFTLESS_SEED: undefined },
    timeoutMs: 300_000,
  });
  results = readRecords(resultsDir);
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('the run records and prints its seed, and ends with exit 1 (violations: the snowflake)', () => {
  assert.match(run.stdout, /\(seed 7, from --seed\)/);
  assert.match(run.stderr, /\[driftless chaos\] cattle: seed 7: .* victims dl-cattle-\d/);
  assert.equal(run.code, 1, run.stdout.slice(-2000));
  for (const r of results.filter((x) => x.suite === 'chaos')) assert.equal(r.parameters.seed, '7');
});

test('cattle: no state lost, the victim replaced by a new instance of the release digest, SLO held', () => {
  for (const c of ['DL-CHAOS-001', 'DL-CHAOS-002', 'DL-CHAOS-003', 'DL-CHAOS-004']) {
    const r = find('cattle', c);
    assert.equal(r?.outcome, 'passed', `${c}: ${r?.message}`);
  }
});

test("cattle's replacement is audited like any cattle host, and passes every check: the instance named, with its origin", () => {
  const slot = results.filter((r) => r.fleet === 'cattle' && r.suite === 'replacements');
  assert.ok(slot.length > 20, `${slot.length} checks of the replacement`);
  for (const r of slot) {
    assert.equal(r.host, 'replacement-of-kill-1');
    assert.equal(r.outcome, 'passed', `${r.control}: ${r.message}`);
    assert.match(r.parameters.origin ?? '', /^replacement of dl-cattle-\d \(kill 1 of fleet cattle\)$/);
  }
  const launch = evidence<{ changes: unknown[] }>(
    slot.find((r) => r.control === 'DL-IMG-003')!,
    'launch configuration vs its predecessor',
  );
  assert.deepEqual(launch?.changes, [], 'the supervisor brings it back as it was');
});

test('snowflake: state loss is caught', () => {
  const r = find('snowflake', 'DL-CHAOS-001');
  assert.equal(r?.outcome, 'failed');
  assert.match(r?.message ?? '', /state lost — not stateless: \d+ of 10 keys missing/);
  assert.equal(r!.violation, 'state-lost');
});

test('snowflake: its victim was not replaced, under the category that says how', () => {
  const r = find('snowflake', 'DL-CHAOS-002');
  assert.equal(r?.outcome, 'failed');
  const m = r?.message ?? '';
  // dl-snowflake-1 is restarted in place by the engine; dl-snowflake-2 stays dead
  if (/dl-snowflake-1: restarted-in-place/.test(m)) {
    assert.equal(r!.violation, 'restarted-in-place');
    assert.equal(r!.category, 'Restarted in place');
  } else {
    assert.match(m, /dl-snowflake-2: missing — dl-snowflake-2 is exited, and no new running instance took its place/);
    assert.equal(r!.violation, 'not-replaced');
    assert.equal(r!.category, 'Not replaced');
  }
});

test('the timeline chart and raw buckets are attached', () => {
  const r = find('cattle', 'DL-CHAOS-004')!;
  const atts = r.attachments;
  const svg = atts.find((a) => a.name === 'timeline.svg');
  assert.ok(svg, 'timeline.svg attached');
  assert.equal(svg.contentType, 'image/svg+xml');
  const text = svg.body;
  assert.match(text, /^<svg[^>]+xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(text, />kill dl-cattle-\d</);
  assert.ok(atts.find((a) => a.name === 'buckets.json'));
});
