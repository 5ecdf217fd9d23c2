/**
 * The record step: a suite's judgements become typed results (core/check-record.ts), one per
 * owed check, written into the results folder with their evidence. An owed check the suite did
 * not answer is recorded broken, never left out.
 */
import type { CheckRecord } from '../core/check-record.ts';
import { recordCheck } from '../core/check-record.ts';
import type { CheckResult } from '../core/check-result.ts';
import type { Config } from '../core/config.ts';
import { secretValues } from '../core/redact.ts';
import { EvidenceStore, writeChecks } from '../core/results-folder.ts';
import type { PlannedCheck } from '../core/run-plan.ts';
import type { SuiteName } from '../core/suites.ts';

export interface RecordRun {
  runId: string;
  startedAt: string;
  config: Config;
  resultsDir: string;
}

/** Records one suite's checks; resolves to the records written. */
export async function recordSuite(
  run: RecordRun,
  suite: SuiteName,
  checks: readonly PlannedCheck[],
  results: readonly CheckResult[],
  timing: { startedAt: string; finishedAt: string },
): Promise<CheckRecord[]> {
  const store = new EvidenceStore(run.resultsDir);
  const byCheck = new Map(results.map((r) => [r.check, r]));
  const ctx = {
    runId: run.runId,
    runStartedAt: run.startedAt,
    waivers: run.config.waiverList ?? [],
    secrets: secretValues(run.config),
    store: store.ref,
    timing,
  };
  const records = checks.map((c) => recordCheck(c, byCheck.get(c.id), ctx));
  await store.flush();
  await writeChecks(run.resultsDir, { version: 1, runId: run.runId, suite, records });
  return records;
}
