/**
 * Writes the audit suites' Allure results directly: one result per owed (host, control), with the
 * same labels, parameters, evidence and statuses a Playwright test of it would carry (both take
 * them from core/check-outcome.ts). Why not one Playwright test per check: on this machine a
 * Playwright test costs ~18 ms of CPU even when empty (a stack trace per step, mapped through
 * source maps), so 1,500 checks spent longer being reported than being probed (bench/README.md).
 * An owed check without a result is written as broken, never left out.
 */
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Attachment, CheckResult } from '../core/check-result.ts';
import { checkOutcome } from '../core/check-outcome.ts';
import { ProbeError } from '../core/errors.ts';
import type { PlannedCheck } from '../core/plan.ts';
import { secretValues } from '../core/redact.ts';
import type { RunContext } from '../core/run.ts';

const EXT: Record<Attachment['contentType'], string> = {
  'application/json': 'json',
  'text/plain': 'txt',
  'text/x-diff': 'diff',
  'image/svg+xml': 'svg',
};

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export interface Timing {
  start: number;
  stop: number;
}

/** Files written at once: enough to keep the disk busy while the CPU builds the next results. */
const PARALLEL_WRITES = 32;

/** Writes one Allure result (and its attachments) per check; resolves to how many were written. */
export async function writeCheckResults(
  dir: string,
  run: Pick<RunContext, 'runId' | 'startedAt' | 'config'>,
  checks: readonly PlannedCheck[],
  results: readonly CheckResult[],
  timing: Timing,
): Promise<number> {
  fs.mkdirSync(dir, { recursive: true });
  const files: Array<[string, string]> = [];
  const secrets = secretValues(run.config);
  const byCheck = new Map(results.map((r) => [r.check, r]));
  const common = [
    { name: 'language', value: 'javascript' },
    { name: 'framework', value: 'driftless' },
    { name: 'host', value: os.hostname() },
    { name: 'thread', value: `pid-${process.pid}` },
  ];
  for (const check of checks) {
    const o = checkOutcome(check, byCheck.get(check.id), run, secrets);
    const uuid = randomUUID();
    const attachments = o.attachments.map((a) => {
      const source = `${randomUUID()}-attachment.${EXT[a.contentType] ?? 'txt'}`;
      files.push([source, a.body]);
      return { name: a.name, source, type: a.contentType };
    });
    const titlePath = [check.suite, `fleet ${check.fleet}`, ...(check.host ? [check.host] : [])];
    const fullName = [...titlePath, check.title].join(' › ');
    const message = o.status === 'broken' ? new ProbeError(o.reason ?? '(no reason given)').message : o.reason;
    const result = {
      uuid,
      name: check.title,
      fullName,
      titlePath,
      // Stable across runs, so Allure's history and trend follow the same (host, control).
      historyId: md5(fullName),
      testCaseId: md5(fullName),
      status: o.status,
      statusDetails: message ? { message } : {},
      stage: 'finished',
      steps: [],
      attachments,
      parameters: o.parameters,
      labels: [...common, ...o.labels],
      links: o.links,
      start: timing.start,
      stop: timing.stop,
    };
    files.push([`${uuid}-result.json`, JSON.stringify(result)]);
  }
  let next = 0;
  const writer = async (): Promise<void> => {
    while (next < files.length) {
      const [name, body] = files[next++]!;
      await fs.promises.writeFile(path.join(dir, name), body);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_WRITES }, writer));
  return checks.length;
}
