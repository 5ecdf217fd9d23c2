/**
 * The outputs CI systems and auditors read (JUnit XML, SARIF, OSCAL, a Markdown job summary), each
 * one renderer of the typed results beside the Allure writer: a function from the plan's owed
 * checks, the record of each (absent: not run), the verdict and the run records to files under
 * `outputs/`. `driftless run` writes them into its results folder, `driftless report` into the
 * report folder, both before the evidence bundle is written, so the bundle lists them. No output is
 * ever read back to decide anything.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CheckRecord, EvidenceRef } from '../core/check-record.ts';
import { UsageError } from '../core/errors.ts';
import type { PlannedCheck } from '../core/run-plan.ts';
import { writeJunit } from './junit.ts';
import { writeOscal } from './oscal.ts';
import type { RunRecord } from './run-record.ts';
import { writeSarif } from './sarif.ts';
import { writeSummary } from './summary.ts';
import type { Verdict } from './verdict.ts';

export const OUTPUT_KINDS = ['junit', 'sarif', 'oscal', 'summary'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];
export const OUTPUTS_DIR = 'outputs';

export interface RenderInput {
  /** Every check the merged runs owe, in plan order. */
  owed: readonly PlannedCheck[];
  /** The record answering each owed check, by check id (absent: not run). */
  byCheck: ReadonlyMap<string, CheckRecord>;
  verdict: Verdict;
  runs: readonly RunRecord[];
  /** Where a record's evidence file is, relative to the outputs folder. */
  evidencePath: (r: CheckRecord, e: EvidenceRef) => string;
  /** The folder paths in the outputs are relative to (SARIF's source root): the working directory by default. */
  workDir?: string;
}

/** `--output junit,sarif` (or `none`): the kinds named, each checked; a wrong one is a usage error (exit 2). */
export function parseOutputs(text: string, option = '--output'): OutputKind[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'none') return [];
  const bad = names.filter((n) => !(OUTPUT_KINDS as readonly string[]).includes(n));
  if (bad.length || names.length === 0)
    throw new UsageError(
      `${option} ${text}: ${bad.length ? `no output ${bad.join(', ')}` : 'names no output'}; name some of ${OUTPUT_KINDS.join(', ')}, or none`,
    );
  return OUTPUT_KINDS.filter((k) => names.includes(k));
}

export interface WrittenOutputs {
  /** The files written, relative to the folder `outputs/` is in. */
  files: string[];
  /** The Markdown summary, when it was selected (the CLI appends it to $GITHUB_STEP_SUMMARY). */
  summary?: string;
}

/** Writes the selected outputs into `<dir>/outputs/`. */
export function writeOutputs(dir: string, kinds: readonly OutputKind[], input: RenderInput): WrittenOutputs {
  const out = path.join(dir, OUTPUTS_DIR);
  fs.mkdirSync(out, { recursive: true });
  const files: string[] = [];
  let summary: string | undefined;
  for (const kind of kinds) {
    if (kind === 'junit') files.push(writeJunit(out, input));
    if (kind === 'sarif') files.push(writeSarif(out, input));
    if (kind === 'oscal') files.push(...writeOscal(out, input));
    if (kind === 'summary') {
      const s = writeSummary(out, input);
      files.push(s.file);
      summary = s.text;
    }
  }
  return { files: files.map((f) => path.relative(dir, f)), ...(summary !== undefined ? { summary } : {}) };
}

/** One line per run for the outputs' headers: the run ids and plan hashes. */
export function runIdentity(input: RenderInput): { runIds: string[]; planHashes: string[] } {
  return { runIds: input.runs.map((r) => r.runId), planHashes: input.runs.map((r) => r.planHash) };
}
