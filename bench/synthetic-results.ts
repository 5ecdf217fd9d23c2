/**
 * A results folder of N hosts × 26 checks, as `driftless run --suite ssh-edits --suite
 * image-integrity` leaves it against the bench fleet (docker provider), without starting a host:
 * the same plan (16 edits and checks of ssh-edits, 10 image checks per host), typed results written
 * by the real record step (engine/record.ts: redaction, evidence stored once by its hash), evidence
 * bodies of the shapes and sizes a real run attaches (host-specific: the host's address, overlay
 * directory, container id, times), the run record, the folder's verdict, its outputs (JUnit,
 * SARIF, OSCAL, summary) and its evidence bundle. So `driftless report` can be measured at 1,000
 * hosts, and shard merges at any size, on a machine that cannot start 1,000 containers.
 *
 *   node --import tsx bench/synthetic-results.ts --hosts 1000 --out dir [--shards 4] [--failing 10] [--broken 5]
 *
 * With --shards n the hosts are dealt as `--shard i/n` deals them (audits/plan-run.ts), one folder
 * per shard (dir/shard-<i>), all of one run id.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { shardChecks } from '../audits/plan-run.ts';
import type { CheckResult } from '../core/check-result.ts';
import type { Config } from '../core/config.ts';
import type { ControlId } from '../core/controls.ts';
import { harnessVersion } from '../core/paths.ts';
import { type PlannedCheck, plannedCheck, planHash, type RunPlan } from '../core/run-plan.ts';
import { recordSuite } from '../engine/record.ts';
import { writeEvidence } from '../reports/evidence.ts';
import { imageChecksFor } from '../audits/image/image-plan.ts';
import { OUTPUT_KINDS, writeOutputs } from '../reports/outputs.ts';
import { mergeRecords, type RunRecord, writeRunRecord } from '../reports/run-record.ts';
import { answersOf, verdictOf, writeVerdict } from '../reports/verdict.ts';

const FLEET = 'bench';
const IMAGE = `sha256:${'1'.repeat(64)}`;
const EDITS: Array<[ControlId, string, string]> = [
  ...['/etc', '/usr/bin', '/usr/lib', '/opt/app', '/etc/cron.d', '/etc/systemd/system', '/var/lib/dpkg', '~/.ssh'].map(
    (d) => ['DL-SSH-010', `canary:${d}`, `create a canary file in ${d}`] as [ControlId, string, string],
  ),
  ...['/etc/passwd', '/etc/shadow', '/etc/ssh/sshd_config', '/opt/app/entrypoint.sh'].map(
    (f) => ['DL-SSH-020', `append:${f}`, `open ${f} for append (writing zero bytes)`] as [ControlId, string, string],
  ),
  ['DL-SSH-030', 'chmod:/usr/bin', 'change the mode of a file in /usr/bin (a canary, or a file to its own current mode)'],
  ['DL-SSH-040', 'sudo', 'escalate privileges with sudo -n true'],
];
const SSH_CHECKS: ControlId[] = ['DL-SSH-060', 'DL-SSH-099'];
// A Docker host's image checks as the plan owes them, without DL-IMG-017 (the 26 checks a host of
// the 2026-12-02 run had, which the figures compare with).
const IMAGE_CHECKS: ControlId[] = imageChecksFor('docker', undefined).filter((id) => id !== 'DL-IMG-017');
export const CHECKS_PER_HOST = EDITS.length + SSH_CHECKS.length + IMAGE_CHECKS.length;

export const hostName = (i: number) => `dl-bench-${i}`;

/** The plan of a run of both audit suites over `hosts` bench hosts. */
export function syntheticPlan(hosts: number): RunPlan {
  const checks: PlannedCheck[] = [];
  for (let i = 1; i <= hosts; i++) {
    const where = { fleet: FLEET, host: hostName(i) };
    for (const [c, id, what] of EDITS) checks.push(plannedCheck(c, where, { id, what }));
    for (const c of SSH_CHECKS) checks.push(plannedCheck(c, where));
  }
  for (let i = 1; i <= hosts; i++) for (const c of IMAGE_CHECKS) checks.push(plannedCheck(c, { fleet: FLEET, host: hostName(i) }));
  return { suites: ['ssh-edits', 'image-integrity'], checks, notApplicable: [] };
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const json = (name: string, body: unknown) => ({ name, contentType: 'application/json' as const, body: JSON.stringify(body, null, 2) });

/** What a host's checks attach in a real run: the same fields, host-specific values, similar sizes. */
function evidenceOf(check: PlannedCheck, n: number): CheckResult['evidence'] {
  const host = check.host!;
  const upper = `/var/lib/docker/overlay2/${hex(`upper ${host}`)}/diff`;
  const address = `127.0.0.1:${23000 + n}`;
  const endpoint = {
    status: 'proven',
    basis: 'overlay-upperdir',
    address,
    expected: `upperdir ${upper}`,
    observed: `upperdir ${upper}`,
    reason: `the SSH endpoint ${address}'s root overlay has upperdir ${upper}, the upper directory the engine reports for ${host}`,
  };
  const at = (ms: number) => new Date(Date.UTC(2026, 11, 2, 3, 0, 0) + n * 997 + ms).toISOString();
  const mount = { mountPoint: '/', fsType: 'overlay', source: 'overlay', options: ['ro', 'relatime'], superOptions: ['rw', `upperdir=${upper}`] };
  switch (check.control) {
    case 'DL-SSH-010':
    case 'DL-SSH-020':
    case 'DL-SSH-030':
    case 'DL-SSH-040':
      return [
        json('evidence', {
          host,
          address,
          user: 'audit',
          endpoint,
          outcome: 'BLOCKED',
          reason: 'refused by a read-only mount (EROFS)',
          attempt: { item: check.item, command: `sh -c 'umask 077; : > ${check.item}.driftless-canary-${n}'`, exitCode: 1, errno: 'EROFS' },
          mount,
          ctime: { before: at(1), after: at(1) },
          startedAt: at(0),
          durationMs: 40 + (n % 17),
        }),
      ];
    case 'DL-SSH-060':
      return [
        json('mounts', {
          immutablePaths: ['/etc', '/usr/bin', '/usr/lib', '/opt/app', '/etc/cron.d', '/etc/systemd/system', '/var/lib/dpkg', '~/.ssh'].map((p) => ({
            path: p,
            resolved: p.replace('~', '/home/audit'),
            mount: {
              ...mount,
              superOptions: [
                ...mount.superOptions,
                `lowerdir=${Array.from({ length: 36 }, (_, k) => `/var/lib/docker/overlay2/l/${hex(`${k}`).slice(0, 26)}`).join(':')}`,
                `workdir=${upper.replace(/diff$/, 'work')}`,
              ],
            },
            readOnly: true,
          })),
          host,
          endpoint,
        }),
      ];
    case 'DL-SSH-099':
      return [
        json('sweep', {
          removed: [],
          left: [],
          onNewConnection: false,
          interrupted: null,
          endpoint,
          command: `for d in '/etc' '/usr/bin' '/usr/lib' '/opt/app'; do find "$d" -maxdepth 1 -name '.driftless-canary-${n}*'; done`,
        }),
      ];
    case 'DL-IMG-001':
      return [json('image', { host, service: 'bench-sshd', running: IMAGE, ref: IMAGE, repoDigests: [], declared: { digest: IMAGE }, release: 'bench' })];
    case 'DL-IMG-002':
      return [
        json('filesystem diff', {
          host,
          drift: [],
          driftCount: 0,
          ignored: [{ path: '/etc/ssh/lab_authorized_keys', kind: 'added', why: 'mount point /etc/ssh/lab_authorized_keys' }],
          writablePaths: ['/tmp', '/run'],
        }),
      ];
    case 'DL-IMG-003':
    case 'DL-IMG-004':
      return [
        json(check.control === 'DL-IMG-003' ? 'container' : 'starts', {
          host,
          created: at(-5000),
          startedAt: at(-4800),
          restartCount: 0,
          readonlyRootfs: true,
          state: 'running',
          id: hex(`container ${host}`),
        }),
      ];
    case 'DL-IMG-005':
      return [json('exec events', { host, since: at(-5000), execs: [], healthChecks: 0, complete: true })];
    case 'DL-IMG-006':
      return [
        json('manifest', {
          host,
          expected: { source: `image:${IMAGE}`, entries: 3906 },
          actual: { login: { user: 'audit', address }, entries: 3906, durationMs: 900 + (n % 300) },
          driftCount: 0,
          added: [],
          removed: [],
          changed: [],
        }),
        json(
          'could not read (compared on metadata only)',
          ['/etc/gshadow', '/etc/gshadow-', '/etc/shadow', '/etc/shadow-', '/etc/sudoers', '/etc/sudoers.d/README'].map((p) => ({
            path: p,
            side: 'actual',
            error: 'file not readable by the scanning user; not hashed',
          })),
        ),
      ];
    default:
      return [
        json('engine', {
          host,
          mounts: [{ destination: '/etc/ssh/keys', type: 'bind', rw: false }],
          privileged: false,
          capAdd: [],
          securityOpt: ['no-new-privileges'],
          user: '(root)',
        }),
      ];
  }
}

/** The judgement of a check of host number `n`: passed, or the violation / probe error asked for. */
function resultOf(check: PlannedCheck, n: number, failing: number, broken: number): CheckResult {
  const evidence = evidenceOf(check, n);
  if (n <= failing && check.control === 'DL-IMG-006')
    return {
      check: check.id,
      status: 'failed',
      violation: 'manifest-drift',
      message: `${check.host} differs from its golden manifest (image:${IMAGE}): 1 entries: changed /etc/motd (size, sha256)`,
      evidence,
    };
  if (n > failing && n <= failing + broken && check.control === 'DL-IMG-005')
    return { check: check.id, status: 'broken', message: `the engine's event log no longer reaches back to the creation of ${check.host}`, evidence };
  return { check: check.id, status: 'passed', evidence };
}

export interface SyntheticOptions {
  /** The folder (unsharded), or the parent of shard-<i> folders. */
  dir: string;
  hosts: number;
  shards?: number;
  runId?: string;
  /** The first `failing` hosts have a manifest drift, the next `broken` hosts a DL-IMG-005 probe error. */
  failing?: number;
  broken?: number;
  /** Records and run records only: no evidence bodies, verdict, outputs or bundle (fast, for tests of the merge). */
  lean?: boolean;
  /** Signs each folder's bundle, as a run with report.signingKey does: `driftless report` with that key refuses unsigned folders. */
  signingKey?: string;
}

export interface SyntheticResults {
  dirs: string[];
  runId: string;
  checks: number;
  notPassed: number;
}

/** Writes the folder(s); resolves to where they are and how many checks they answer. */
export async function writeSyntheticResults(o: SyntheticOptions): Promise<SyntheticResults> {
  const plan = syntheticPlan(o.hosts);
  const runId = o.runId ?? `synthetic-${o.hosts}`;
  const total = o.shards && o.shards > 1 ? o.shards : 0;
  const hostIndex = new Map(Array.from({ length: o.hosts }, (_, i) => [hostName(i + 1), i + 1]));
  const config = { targets: [], waiverList: [] } as unknown as Config;
  const startedAt = new Date().toISOString();
  const dirs: string[] = [];
  let notPassed = 0;
  for (let s = 1; s <= Math.max(1, total); s++) {
    const dir = total ? path.join(o.dir, `shard-${s}`) : o.dir;
    fs.rmSync(dir, { recursive: true, force: true });
    const owed = total ? shardChecks(plan, { index: s, total }) : plan.checks;
    const record: RunRecord = {
      runId,
      seed: 1,
      seedFrom: 'cli',
      startedAt,
      harnessVersion: harnessVersion(),
      config: { file: '/bench/driftless.bench.yaml', sha256: hex('bench config') },
      fleets: [{ name: FLEET, provider: 'docker', hosts: o.hosts }],
      inventory: [{ target: FLEET, provider: 'docker', hosts: [] }],
      release: { 'bench-sshd': { digest: IMAGE } },
      planHash: planHash(plan),
      plan,
      shard: total ? { index: s, total } : null,
      owed: owed.map((c) => c.id),
      dryRun: false,
      inputs: { release: null, waivers: null },
    };
    writeRunRecord(dir, record);
    const records = [];
    for (const suite of ['ssh-edits', 'image-integrity'] as const) {
      const mine = owed.filter((c) => c.suite === suite);
      const results = mine.map((c) => resultOf(c, hostIndex.get(c.host!)!, o.failing ?? 0, o.broken ?? 0)).map((r) => (o.lean ? { ...r, evidence: [] } : r));
      notPassed += results.filter((r) => r.status !== 'passed').length;
      records.push(
        ...(await recordSuite({ runId, startedAt, config, resultsDir: dir }, suite, mine, results, { startedAt, finishedAt: new Date().toISOString() })),
      );
    }
    const finished: RunRecord = { ...record, finished: { at: new Date().toISOString(), phases: [{ phase: 'audit', recorded: 'ok', audits: 'ok' }] } };
    writeRunRecord(dir, finished);
    dirs.push(dir);
    if (o.lean) continue;
    const merged = mergeRecords([{ dir, record: finished }], false);
    const answers = answersOf(records, merged);
    const verdict = { ...verdictOf(records, merged) };
    writeVerdict(path.join(dir, 'verdict.json'), verdict);
    writeOutputs(dir, OUTPUT_KINDS, { ...answers, verdict, runs: merged.runs, evidencePath: (_r, e) => path.posix.join('..', e.file) });
    writeEvidence(dir, {
      kind: 'results',
      runIds: [runId],
      harness: { version: harnessVersion(), lockfileSha256: null },
      inputs: [],
      planHashes: [record.planHash],
      verdict: { verdict: verdict.verdict, exitCode: verdict.exitCode },
      ...(o.signingKey ? { signingKey: o.signingKey } : {}),
    });
  }
  return { dirs, runId, checks: plan.checks.length, notPassed };
}

/** The command line: writes the folder(s) and says where. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string' },
      out: { type: 'string' },
      shards: { type: 'string' },
      failing: { type: 'string' },
      broken: { type: 'string' },
      'run-id': { type: 'string' },
    },
  });
  if (!values.out || !values.hosts)
    throw new Error('usage: bench/synthetic-results.ts --hosts N --out dir [--shards n] [--failing n] [--broken n] [--run-id id]');
  const r = await writeSyntheticResults({
    dir: path.resolve(values.out),
    hosts: Number(values.hosts),
    ...(values.shards ? { shards: Number(values.shards) } : {}),
    ...(values.failing ? { failing: Number(values.failing) } : {}),
    ...(values.broken ? { broken: Number(values.broken) } : {}),
    ...(values['run-id'] ? { runId: values['run-id'] } : {}),
  });
  process.stdout.write(`${r.checks} checks (${r.notPassed} not passed) in ${r.dirs.join(', ')}\n`);
}

if (process.argv[1] === new URL(import.meta.url).pathname)
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  });
