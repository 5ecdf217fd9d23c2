/**
 * The run record every results folder carries (driftless-run.json): which run it belongs to,
 * the inventory it planned from, the whole plan and its hash, which shard this is and which checks it owes, and, once the run
 * has finished, how its runners ended. `driftless report` reads one per folder and refuses to
 * merge folders of different runs, plans or configs; a folder without a record, a shard that is
 * missing and a run that never finished are named, never merged away.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Control } from '../core/controls.ts';
import type { FleetSnapshot } from '../core/inventory.ts';
import type { RunPlan } from '../core/run-plan.ts';

export const RUN_RECORD = 'driftless-run.json';

export interface Shard {
  index: number;
  total: number;
}

export interface PhaseEnd {
  phase: string;
  /** The phase's typed results: 'ok' when all were written, else why not (the run is then not fully checked). */
  recorded: string;
  /** The audits of the phase: 'ok', or why they failed (their checks were then judged broken). */
  audits: string;
}

/** The run's kill budget and where it went (chaos runs), as the harness recorded each kill. */
export interface KillsOfRun {
  maxKills: number;
  spent: Array<{ fleet: string; host: string; instanceId: string; at: string }>;
  /** A dry run: what it would have killed. */
  wouldKill?: Array<{ fleet: string; host: string; instanceId: string; at: string }>;
}

export interface RunRecord {
  runId: string;
  seed: number;
  /** --seed wins over chaos.seed; without either a seed is drawn. Both are recorded. */
  seedFrom: 'cli' | 'config' | 'random';
  configSeed?: number;
  startedAt: string;
  harnessVersion: string;
  config: { file: string; sha256: string };
  fleets: Array<{ name: string; provider: string; hosts: number }>;
  /** The fleets as the run found them before planning (the plan was computed from these). */
  inventory: FleetSnapshot[];
  release: Record<string, { digest?: string; ami?: string }>;
  planHash: string;
  plan: RunPlan;
  shard: Shard | null;
  /** The ids of the plan's checks this folder owes (all of them unless sharded). */
  owed: string[];
  /** chaos.dryRun: nothing was killed, so the chaos checks cannot pass. */
  dryRun: boolean;
  /** The team's own controls the run's check files declared (the report knows them from here). */
  customControls?: Control[];
  /** The sha256 of the release file and the waiver file the run used (null: none): runs of one report must share them. */
  inputs: { release: string | null; waivers: string | null };
  /** Set when the run ended normally: absent means it crashed or was interrupted. */
  finished?: { at: string; phases: PhaseEnd[]; kills?: KillsOfRun };
}

export function writeRunRecord(resultsDir: string, record: RunRecord): void {
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, RUN_RECORD);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

export type RecordRead = { dir: string; record: RunRecord } | { dir: string; problem: string };

export function readRunRecord(dir: string): RecordRead {
  if (!fs.existsSync(dir)) return { dir, problem: `results folder ${dir} does not exist (a shard that did not upload its results?)` };
  const file = path.join(dir, RUN_RECORD);
  if (!fs.existsSync(file)) return { dir, problem: `${dir} has no ${RUN_RECORD}: not the results of a \`driftless run\`, or the run stopped before it began` };
  try {
    return { dir, record: JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord };
  } catch (err) {
    return { dir, problem: `${file} cannot be read: ${(err as Error).message}` };
  }
}

export interface MergedRecords {
  /** The runs the folders hold (one, or e.g. sharded audits plus a chaos run), each validated. */
  runs: RunRecord[];
  /** Check id -> the run that owes it. */
  owed: Map<string, string>;
  /** Why the merged results do not cover the runs (missing folders and shards, unfinished runs, runners that did not run). */
  incomplete: string[];
  /** Why the folders cannot be merged at all (one run's shards disagree, runs overlap or used different configs). */
  refused: string[];
}

/**
 * Groups the folders by run and checks each run: its shards agree on plan and config, all are
 * present and finished. Runs may be merged (sharded audits, then chaos) when they used one
 * config and owe different checks. `whole`: each run's results must answer its whole plan (a
 * report); otherwise only what the folders owe (a shard's own verdict, before the merge).
 */
export function mergeRecords(reads: RecordRead[], whole = true, opts: { maxRunSpreadHours?: number } = {}): MergedRecords {
  const out: MergedRecords = { runs: [], owed: new Map(), incomplete: [], refused: [] };
  const byRun = new Map<string, Array<{ dir: string; record: RunRecord }>>();
  for (const r of reads) {
    if ('problem' in r) out.incomplete.push(r.problem);
    else byRun.set(r.record.runId, [...(byRun.get(r.record.runId) ?? []), r]);
  }
  for (const [runId, folders] of byRun) {
    const first = folders[0]!.record;
    out.runs.push(first);
    for (const { dir, record } of folders.slice(1)) {
      if (record.planHash !== first.planHash)
        out.refused.push(`${dir} owes a different plan than ${folders[0]!.dir} for run ${runId}: its shards saw different fleets`);
      if (record.config.sha256 !== first.config.sha256) out.refused.push(`${dir} ran run ${runId} with another config than ${folders[0]!.dir}`);
    }
    const base = out.runs[0]!;
    if (out.runs.length > 1) {
      if (first.config.sha256 !== base.config.sha256)
        out.refused.push(
          `run ${runId} used another config (sha256 ${first.config.sha256.slice(0, 12)}) than run ${base.runId} (${base.config.sha256.slice(0, 12)}): runs of one report must share one config`,
        );
      for (const what of ['release', 'waivers'] as const) {
        const a = first.inputs?.[what] ?? null;
        const b = base.inputs?.[what] ?? null;
        if (a !== b)
          out.refused.push(
            `run ${runId} used another ${what === 'release' ? 'release file' : 'waiver file'} (sha256 ${a?.slice(0, 12) ?? 'none'}) than run ${base.runId} (${b?.slice(0, 12) ?? 'none'}): runs of one report must judge the same release with the same waivers`,
          );
      }
      const spread = Math.abs(Date.parse(first.startedAt) - Date.parse(base.startedAt)) / 3_600_000;
      const max = opts.maxRunSpreadHours ?? 24;
      if (!(spread <= max))
        out.refused.push(
          `run ${runId} started ${spread.toFixed(1)} h apart from run ${base.runId} (${first.startedAt} and ${base.startedAt}), more than report.maxRunSpreadHours ${max}: they are not one nightly run`,
        );
    }
    const owes = (id: string) => {
      const other = out.owed.get(id);
      if (other && other !== runId)
        out.refused.push(
          `runs ${other} and ${runId} both owe check ${id}: a check is answered by one run only (shards of one run must all carry the same --run-id)`,
        );
      out.owed.set(id, runId);
    };
    for (const { dir, record } of folders) {
      for (const id of record.owed) owes(id);
      const which = `${dir}: run ${runId}${record.shard ? ` shard ${record.shard.index}/${record.shard.total}` : ''}`;
      if (!record.finished) out.incomplete.push(`${which} did not finish (crashed or interrupted)`);
      for (const p of record.finished?.phases ?? []) {
        if (p.recorded !== 'ok') out.incomplete.push(`${which}: the ${p.phase} results were not all recorded: ${p.recorded}`);
        if (p.audits !== 'ok') out.incomplete.push(`${which}: the ${p.phase} audits failed: ${p.audits}`);
      }
    }
    const total = first.shard?.total;
    if (!whole) continue;
    for (const c of first.plan.checks) owes(c.id); // the run's whole plan is owed, whatever folders came
    if (!total) {
      if (folders.length > 1) out.refused.push(`run ${runId} appears in ${folders.length} folders but is not sharded: ${folders.map((f) => f.dir).join(', ')}`);
      continue;
    }
    const seen = new Map<number, string>();
    for (const { dir, record } of folders) {
      if (!record.shard || record.shard.total !== total)
        out.refused.push(
          `${dir} is ${record.shard ? `shard ${record.shard.index}/${record.shard.total}` : 'not sharded'}, the others of run ${runId} are shards of ${total}`,
        );
      else if (seen.has(record.shard.index))
        out.refused.push(`${dir} and ${seen.get(record.shard.index)} are both shard ${record.shard.index}/${total} of run ${runId}`);
      else seen.set(record.shard.index, dir);
    }
    for (let i = 1; i <= total; i++)
      if (!seen.has(i)) out.incomplete.push(`shard ${i}/${total} of run ${runId} is missing: its checks were not run or not uploaded`);
  }
  out.refused = [...new Set(out.refused)];
  return out;
}
