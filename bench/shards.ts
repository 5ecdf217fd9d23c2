/**
 * The large run as n shards, as CI jobs run them: n processes of `driftless run --shard i/n
 * --run-id <id> --results-dir <own folder>`, then `driftless report` over the n folders (the
 * merge). Here the shards run one after the other on one machine, so each is measured alone, as
 * it would run on a runner of its own: the CI wall time is the slowest shard's, the CPU the sum.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runDriftless, type ReportRun, type ScaleRun, type SuiteName, timeReport } from './scale.ts';
import { log, round } from './stats.ts';

export interface ShardedRun {
  total: number;
  runId: string;
  shards: ScaleRun[];
  /** The slowest shard: what n runners in parallel would take. */
  slowestShardSeconds: number;
  /** Every shard's CPU together: what n runners cost. */
  shardCpuSeconds: number;
  merge?: ReportRun;
  valid: boolean;
  problem?: string;
}

export async function runSharded(opts: {
  total: number;
  suites: SuiteName[];
  configFile: string;
  hosts: number;
  concurrency: number;
  workDir: string;
}): Promise<ShardedRun> {
  const runId = `bench-large-n${opts.hosts}-shards-${opts.total}-${Date.now().toString(36)}`;
  const shards: ScaleRun[] = [];
  log(`large run as ${opts.total} shards (run id ${runId}), one after the other`);
  for (let index = 1; index <= opts.total; index++)
    shards.push(
      await runDriftless({
        suites: opts.suites,
        provider: 'docker',
        scope: 'etc',
        configFile: opts.configFile,
        hosts: opts.hosts,
        concurrency: opts.concurrency,
        workDir: opts.workDir,
        shard: { index, total: opts.total, runId },
        keep: true,
      }),
    );
  const out: ShardedRun = {
    total: opts.total,
    runId,
    shards,
    slowestShardSeconds: Math.max(...shards.map((s) => s.wallSeconds)),
    shardCpuSeconds: round(
      shards.reduce((n, s) => n + s.cpuSeconds, 0),
      2,
    ),
    valid: shards.every((s) => s.valid),
  };
  if (!out.valid) out.problem = shards.find((s) => !s.valid)?.problem ?? 'a shard was not valid';
  const folders = shards.map((s) => s.resultsDir!).filter((d) => fs.existsSync(d));
  if (folders.length === opts.total) {
    const mergeDir = path.join(opts.workDir, `merge-n${opts.hosts}-shards-${opts.total}`);
    fs.rmSync(mergeDir, { recursive: true, force: true });
    out.merge = await timeReport(mergeDir, folders);
    if (out.merge.exitCode !== 0 || out.merge.results !== shards.reduce((n, s) => n + s.counts.passed, 0)) {
      out.valid = false;
      out.problem ??= `the merge of ${opts.total} shards exited ${out.merge.exitCode} over ${out.merge.results} results`;
    }
    if (out.valid) fs.rmSync(mergeDir, { recursive: true, force: true });
  }
  if (out.valid) for (const s of shards) fs.rmSync(path.dirname(s.resultsDir!), { recursive: true, force: true });
  return out;
}
