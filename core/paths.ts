/**
 * Where things are: the repository, the output folder, the lab's state. Every layer asks here,
 * so moving a directory (DRIFTLESS_OUTPUT_DIR, DRIFTLESS_LAB_DIR) moves it everywhere. Source
 * folders never receive generated files: everything a run or a report writes is under the
 * output folder (git ignores it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Every generated file of a run and a report (results, verdict.json, the HTML report): the
 * current directory's driftless-output/, or DRIFTLESS_OUTPUT_DIR (the benchmarks and tests move it).
 */
export function outputDir(): string {
  return path.resolve(process.env.DRIFTLESS_OUTPUT_DIR || 'driftless-output');
}

/** The default places under the output folder. */
export const OUTPUT = {
  results: () => path.join(outputDir(), 'results'),
  report: () => path.join(outputDir(), 'report'),
  singleFile: () => path.join(outputDir(), 'report-single'),
  verdict: () => path.join(outputDir(), 'verdict.json'),
  staging: () => path.join(outputDir(), '.report-staging'),
};

/** The lab's keys, release file and state (`driftless lab up` writes them). */
export function labStateDir(): string {
  return path.resolve(process.env.DRIFTLESS_LAB_DIR ?? path.join(REPO_ROOT, '.driftless', 'lab'));
}

export function schemaFile(name: 'config' | 'manifest' | 'verdict' | 'plan' | 'evidence' | 'results'): string {
  return path.join(REPO_ROOT, 'schemas', `${name}.schema.json`);
}

let version: string | undefined;
export function harnessVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
