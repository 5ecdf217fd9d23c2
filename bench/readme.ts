/**
 * The tables of bench/README.md, rendered from one result file, so the README never shows
 * figures that were not measured together.
 */
import fs from 'node:fs';
import type { CtimeResult } from './ctime.ts';
import { goalsOf } from './goals.ts';
import { type CustomBenchResult, renderCustom } from './custom.ts';
import type { HashResult } from './hash.ts';
import type { LoadBenchResult } from './load.ts';
import type { MachineDetails } from './machine.ts';
import type { PeerComparison, PeerRun } from './peer.ts';
import type { RecoveryResult } from './recovery.ts';
import type { ManifestCostResult } from './manifest-cost.ts';
import type { ReportBench, ReportStep } from './report-bench.ts';
import type { ScaleRun } from './scale.ts';
import { times } from './stats.ts';
import type { ShardedRun } from './shards.ts';

export interface BenchResults {
  command: string;
  startedAt: string;
  seconds: number;
  machine: MachineDetails;
  allValid: boolean;
  fleet?: {
    scope: { name: string; paths: string[] };
    golden: { files: number; bytes: number };
    peerScope: { name: string; paths: string[] };
    peerGolden: { files: number; bytes: number };
    starts: Array<{ hosts: number; seconds: number }>;
  };
  scale?: ScaleRun[];
  large?: {
    hosts: number;
    scope: { name: string };
    golden: { files: number; bytes: number };
    fleetStartSeconds?: number;
    run?: ScaleRun;
    shards?: ShardedRun[];
    error?: string;
  };
  report?: ReportBench;
  manifest?: ManifestCostResult;
  peer?: { versions?: Record<string, string>; driftless: ScaleRun[]; testinfra: PeerRun[]; comparisons: PeerComparison[] };
  hash?: HashResult;
  ctime?: CtimeResult;
  load?: LoadBenchResult;
  recovery?: RecoveryResult;
  custom?: CustomBenchResult;
}

const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
const table = (head: string[], rows: Array<Array<string | number>>) => [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');
const s = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(1));
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

export function renderTables(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [
    `Measured ${r.startedAt.slice(0, 10)} by \`${r.command}\` in ${r.seconds} s on ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ` +
      `${m.os}, Docker ${m.dockerEngine ?? '?'} (${m.storageDriver ?? '?'}), Node ${m.node}, commit ${m.gitCommit?.slice(0, 10) ?? '?'}` +
      `${m.gitDirty ? ' (with uncommitted changes)' : ''}. All measurements valid: ${r.allValid ? 'yes' : '**no** (see the result file)'}.`,
  ];
  const goals = goalsOf(r);
  out.push(
    '',
    `**Goals** — each figure of this run next to its goal (\`bench/goals.ts\`; a goal whose figure is missing or invalid is not met). ` +
      `Met: ${goals.filter((g) => g.met).length} of ${goals.length}.`,
    '',
    table(
      ['issue', 'goal', 'target', 'measured', 'met'],
      goals.map((g) => [`#${g.issue}`, g.goal, g.target, g.measured, g.met ? 'yes' : '**NO**']),
    ),
  );
  if (r.scale?.length && r.fleet) {
    out.push(
      '',
      `**Scale** — \`driftless run --suite <suite>\` against N sshd hosts (docker provider; golden manifest scope \`${r.fleet.scope.name}\`: ` +
        `${r.fleet.golden.files} files, ${mb(r.fleet.golden.bytes)} MB hashed per host). Wall = the whole command; audit = the probing alone; ` +
        'memory = peak summed RSS of the CLI, Playwright runner and workers.',
      '',
      table(
        ['suite', 'hosts', 'concurrency', 'checks', 'wall s', 'audit s', 'wall / audit', 'harness CPU s', 'peak MiB', 'all passed'],
        r.scale.map((x) => [
          x.suite,
          x.hosts,
          x.concurrency,
          x.counts.passed + x.counts.failed + x.counts.broken + x.counts.skipped,
          s(x.wallSeconds),
          s(x.auditSeconds),
          x.overhead === undefined ? '—' : `**${x.overhead.toFixed(2)}×**`,
          s(x.cpuSeconds),
          x.memory.peakTreeMiB.toFixed(0),
          x.valid ? 'yes' : `NO: ${x.problem ?? ''}`,
        ]),
      ),
    );
  }
  if (r.large && !r.large.run) out.push('', `**1,000 hosts** — ${r.large.hosts} hosts: **not measured**: ${r.large.error ?? 'no run recorded'}.`);
  if (r.large?.run) {
    const l = r.large;
    const x = l.run!;
    const checks = x.counts.passed + x.counts.failed + x.counts.broken + x.counts.skipped;
    out.push(
      '',
      `**1,000 hosts** — one \`driftless run --suite ssh-edits --suite image-integrity\` against ${l.hosts} sshd hosts (docker provider, concurrency ${x.concurrency}, ` +
        `golden manifest scope \`${l.scope.name}\`: ${l.golden.files} files, ${mb(l.golden.bytes)} MB per host; fleet started in ${(l.fleetStartSeconds ?? 0).toFixed(0)} s), ` +
        'then `driftless report --single-file` over its results.',
      '',
      table(
        ['step', 'results', 'wall s', 'audit s', 'wall / audit', 'CPU s', 'peak MiB', 'output', 'valid'],
        [
          [
            'run',
            checks,
            s(x.wallSeconds),
            s(x.auditSeconds),
            x.overhead === undefined ? '—' : `**${x.overhead.toFixed(2)}×**`,
            s(x.cpuSeconds),
            x.memory.peakTreeMiB.toFixed(0),
            `${x.counts.passed} passed`,
            x.valid ? 'yes' : `NO: ${x.problem ?? ''}`,
          ],
          ...(x.report
            ? [
                [
                  'report',
                  x.report.results,
                  s(x.report.wallSeconds),
                  '—',
                  '—',
                  s(x.report.cpuSeconds),
                  x.report.peakTreeMiB.toFixed(0),
                  `${x.report.reportMiB} MiB report${x.report.singleFileMiB !== undefined ? `, ${x.report.singleFileMiB} MiB single file` : ''}`,
                  x.report.exitCode === 0 ? 'yes' : `NO: exit ${x.report.exitCode}`,
                ],
              ]
            : []),
        ],
      ),
    );
  }
  if (r.large?.shards?.length) out.push('', ...shardTables(r.large.hosts, r.large.shards));
  if (r.report) out.push('', ...reportTables(r.report));
  if (r.manifest) out.push('', ...manifestTable(r.manifest));
  if (r.peer?.comparisons.length) {
    const v = r.peer.versions ?? {};
    out.push(
      '',
      `**Peer** — the same per-host file-hash check (golden manifest over SSH, pinned host keys), driftless (static SSH fleet, DL-IMG-006 only) ` +
        `(scope \`${r.fleet?.peerScope.name}\`: ${r.fleet?.peerGolden.files} files, ${mb(r.fleet?.peerGolden.bytes ?? 0)} MB per host; \`${r.fleet?.scope.name}\`: ${r.fleet?.golden.files} files, ${mb(r.fleet?.golden.bytes ?? 0)} MB) ` +
        `vs pytest-testinfra ${v.testinfra ?? '?'} + pytest-xdist ${v.xdist ?? '?'} (ssh backend, xdist workers = concurrency), run back to back on the same hosts.`,
      '',
      table(
        [
          'scope',
          'hosts',
          'concurrency',
          'driftless s',
          'testinfra s',
          'wall: testinfra / driftless',
          'driftless CPU s',
          'testinfra CPU s',
          'CPU: testinfra / driftless',
          'driftless peak MiB',
          'testinfra peak MiB',
        ],
        r.peer.comparisons.map((c) => {
          const i = r.peer!.comparisons.indexOf(c); // runs are recorded in the same order
          const d = r.peer!.driftless[i];
          const p = r.peer!.testinfra[i];
          return [
            c.scope,
            c.hosts,
            c.concurrency,
            s(c.driftlessSeconds),
            s(c.testinfraSeconds),
            `**${times(c.speedup)}**${c.valid ? '' : ' (invalid)'}`,
            s(c.driftlessCpuSeconds),
            s(c.testinfraCpuSeconds),
            times(c.cpuRatio),
            d?.memory.peakTreeMiB.toFixed(0) ?? '—',
            p?.memory.peakTreeMiB.toFixed(0) ?? '—',
          ];
        }),
      ),
    );
    const largest = Math.max(...r.peer.comparisons.map((c) => c.hosts));
    const atLargest = r.peer.comparisons.filter((c) => c.hosts === largest);
    const behind = atLargest.filter((c) => c.speedup < 1);
    out.push(
      '',
      `At ${largest} hosts: CPU testinfra / driftless ${atLargest.map((c) => `${times(c.cpuRatio)} (c${c.concurrency}, ${c.scope})`).join(', ')}; ` +
        `wall time ${behind.length ? `**behind** at ${behind.map((c) => `c${c.concurrency} ${c.scope}`).join(', ')}` : 'ahead at every concurrency'}.`,
    );
  }
  if (r.custom) out.push('', ...renderCustom(r.custom));
  if (r.hash) {
    const h = r.hash;
    out.push(
      '',
      `**Hashing** — ${h.tree.files} files, ${mb(h.tree.bytes)} MB (the lab image's default manifest scope), ${h.pinning}; median of ${h.repeats}.`,
      '',
      table(
        ['method', 'median s', 'MB/s'],
        [
          ['driftless manifest (Node, in process)', h.methods.driftless.seconds.median.toFixed(2), h.methods.driftless.mbPerSecond.toFixed(0)],
          ['`find \\| xargs sha256sum`', h.methods.sha256sum.seconds.median.toFixed(2), h.methods.sha256sum.mbPerSecond.toFixed(0)],
          ['driftless remote script (what runs on a host)', h.methods.remoteScript.seconds.median.toFixed(2), h.methods.remoteScript.mbPerSecond.toFixed(0)],
        ],
      ),
      '',
      `sha256sum / driftless manifest: **${h.ratioSha256sumOverDriftless}×**; remote script / driftless manifest: ${h.ratioRemoteScriptOverDriftless}×; ` +
        `on-host: sha256sum / remote script: **${h.ratioSha256sumOverRemoteScript}×** wall, ${h.ratioSha256sumOverRemoteScriptCpu}× CPU (≥ 1 = the script is at least as fast).`,
    );
  }
  if (r.ctime) {
    const c = r.ctime;
    out.push(
      '',
      `**ctime sweep** (measurement; not used by the audit) — ${c.tree.files} files, ${mb(c.tree.bytes)} MB (default scope), ${c.pinning}; median of ${c.repeats}. ` +
        'Full = the on-host script hashing every file; sweep = the same pass hashing only files whose inode change time is after the host was created (`find -newerct`). ' +
        'A ratio shown as — had a sweep whose CPU was under the 10 ms the kernel counts.',
      '',
      table(
        ['files changed', 'sweep hashed', 'full s', 'sweep s', 'full / sweep (wall)', 'full / sweep (CPU)'],
        c.stages.map((st) => [
          st.touched,
          st.candidates,
          st.full.seconds.median.toFixed(3),
          st.sweep.seconds.median.toFixed(3),
          `**${times(st.ratioWall, 1)}**`,
          times(st.ratioCpu, 1),
        ]),
      ),
    );
  }
  if (r.load) {
    const l = r.load;
    out.push(
      '',
      `**Load** — highest sustained rate against ${l.url} (${l.stepSeconds} s steps; ${l.criterion}).`,
      '',
      table(
        ['tool', 'req/s'],
        [
          ['driftless load generator (open loop)', l.driftlessMaxSustained.toFixed(0)],
          ['wrk (closed loop, best run)', l.wrkBest.toFixed(0)],
        ],
      ),
      '',
      `driftless / wrk: **${l.ratioDriftlessOverWrk}×**.`,
    );
  }
  if (r.recovery) {
    const c = r.recovery;
    out.push(
      '',
      `**Recovery timing** — ${c.measured} of ${c.kills} SIGKILLs of cattle hosts: driftless's kill-to-recovered time vs the Docker engine's own event timestamps (victim \`kill\` → replacement \`start\`).`,
      '',
      table(
        ['', 'median ms', 'min ms', 'max ms'],
        [
          ['driftless kill → recovered', ...(c.driftlessMs ? [c.driftlessMs.median, c.driftlessMs.min, c.driftlessMs.max] : ['—', '—', '—'])],
          ['engine kill → replacement start', ...(c.engineMs ? [c.engineMs.median, c.engineMs.min, c.engineMs.max] : ['—', '—', '—'])],
          ['error (driftless − engine)', ...(c.errorMs ? [c.errorMs.median, c.errorMs.min, c.errorMs.max] : ['—', '—', '—'])],
        ].map((cells) => cells.map((x) => (typeof x === 'number' ? Math.round(x) : x))),
      ),
      '',
      `Mean endpoint errors: kill ${c.meanKillEndpointErrorMs?.toFixed(0) ?? '—'} ms, recovered ${c.meanRecoveredEndpointErrorMs?.toFixed(0) ?? '—'} ms (capacity is polled every ${c.pollIntervalMs} ms).`,
    );
  }
  return out.join('\n');
}

const GOALS = { reportSeconds: 60, reportMiB: 1024, singleFileMB: 25 };

function shardTables(hosts: number, runs: ShardedRun[]): string[] {
  return [
    `**Shards** — the ${hosts}-host run as n shards, one process per shard (\`driftless run --shard i/n --run-id … --results-dir …\`, as n CI jobs run it; here one after the other, so each is measured alone), then \`driftless report\` over the n folders.`,
    '',
    table(
      [
        'shards',
        'slowest shard s (CI wall)',
        'shard CPU s (sum)',
        'largest shard peak MiB',
        'merge s',
        'merge CPU s',
        'merge peak MiB',
        'single file MiB',
        'valid',
      ],
      runs.map((x) => [
        x.total,
        s(x.slowestShardSeconds),
        s(x.shardCpuSeconds),
        Math.max(...x.shards.map((y) => y.memory.peakTreeMiB)).toFixed(0),
        s(x.merge?.wallSeconds),
        s(x.merge?.cpuSeconds),
        x.merge?.peakTreeMiB.toFixed(0) ?? '—',
        x.merge?.singleFileMiB?.toFixed(1) ?? '—',
        x.valid ? 'yes' : `NO: ${x.problem ?? ''}`,
      ]),
    ),
  ];
}

const stepRow = (x: ReportStep) => [
  x.what,
  s(x.wallSeconds),
  s(x.cpuSeconds),
  x.peakTreeMiB.toFixed(0),
  x.allureResults ?? '—',
  x.reportMiB?.toFixed(1) ?? '—',
  x.singleFileMiB?.toFixed(1) ?? '—',
  x.bytesPerCheck ?? '—',
  x.valid ? 'yes' : `NO: ${x.problem ?? ''}`,
];

function reportTables(r: ReportBench): string[] {
  const head = ['step', 'wall s', 'CPU s', 'peak MiB', 'Allure results', 'report MiB', 'single file MiB', 'single file bytes / check', 'valid'];
  const grouped = r.reports.find((x) => x.what.endsWith('grouped'));
  const goals =
    grouped && r.hosts === 1000
      ? `Goals at 1,000 hosts: generation ≤ ${GOALS.reportSeconds} s (${s(grouped.wallSeconds)} s), peak ≤ 1 GiB (${grouped.peakTreeMiB.toFixed(0)} MiB), single file ≤ ${GOALS.singleFileMB} MB (${(((grouped.singleFileMiB ?? 0) * 2 ** 20) / 1e6).toFixed(1)} MB).`
      : '';
  return [
    `**Report** — \`driftless report --single-file\` over synthetic results of ${r.hosts} hosts × 26 checks (${r.checks} checks, ${r.notPassed} not passed; \`bench/synthetic-results.ts\`, the shapes and sizes of a real run's records and evidence; results folder ${r.resultsMiB} MiB). ${goals}`,
    '',
    table(head, r.reports.map(stepRow)),
    '',
    `The two generators on the same Allure results (the staging folder each report left): Allure 2 ${r.allure2} (\`allure generate --single-file\`, Java) and Allure 3 ${r.allure3?.version ?? '?'} (the \`allure\` npm package, awesome report, \`singleFile\`, Node API). Allure 3 install scripts: ${r.allure3?.installScripts ?? '?'}; packages asking for a newer Node than 20.17: ${r.allure3?.engines ?? '?'}${r.allure3?.error ? `; not measured: ${r.allure3.error}` : ''}.`,
    '',
    table(head, r.generators.map(stepRow)),
    ...(r.shards.length
      ? [
          '',
          `The same run as k shards (k folders), merged by \`driftless report\` (grouped); and the merge with one shard missing, which must name it.`,
          '',
          table(head, r.shards.map(stepRow)),
        ]
      : []),
  ];
}

function manifestTable(m: ManifestCostResult): string[] {
  const [general, compiled] = m.methods;
  return [
    `**Manifest comparison cost** — the harness's CPU per host for one host's full-manifest stream (${m.golden.entries} entries, ${m.golden.files} files, ${m.golden.streamBytes} bytes, ${m.golden.unreadableToUser} unreadable to the login user; golden: ${m.golden.source}), each method in its own process: \`${m.command}\`.`,
    '',
    table(
      ['method', 'hosts', 'CPU ms / host', 'wall ms / host', 'once per golden ms', 'peak RSS MiB'],
      m.methods.map((x) => [
        x.method === 'general' ? 'general (parse, build, compare, digest)' : 'compiled golden, streamed',
        x.hosts,
        x.cpuMsPerHost.toFixed(1),
        x.wallMsPerHost.toFixed(1),
        x.setupMs.toFixed(0),
        x.peakRssMiB.toFixed(0),
      ]),
    ),
    '',
    `general / compiled: **${m.ratioCpu}×** CPU per host (${general?.cpuMsPerHost} → ${compiled?.cpuMsPerHost} ms).`,
  ];
}

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/** Replaces the results section of the README (between the markers) with fresh tables. */
export function updateReadme(file: string, tables: string, resultFile: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file} has no ${START} … ${END} section to update`);
  const body = `${START}\n<!-- rendered by bench/readme.ts from ${resultFile} (npm run bench, or npm run bench:render -- FILE); do not edit by hand -->\n\n${tables}\n\nFull figures: [\`${resultFile}\`](${resultFile}).\n${END}`;
  fs.writeFileSync(file, text.slice(0, a) + body + text.slice(b + END.length));
}
