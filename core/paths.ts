/**
 * Where things are: the repository, the generated reports, the lab's state. Every layer asks
 * here, so moving a directory (DRIFTLESS_REPORTS_DIR, DRIFTLESS_LAB_DIR) moves it everywhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every generated file of a run (results, run dirs, verdict.json, report); the benchmarks move it. */
export function reportsDir(): string {
  return path.resolve(process.env.DRIFTLESS_REPORTS_DIR || path.join(REPO_ROOT, 'reports'));
}

/** The lab's keys, release file and state (`driftless lab up` writes them). */
export function labStateDir(): string {
  return path.resolve(process.env.DRIFTLESS_LAB_DIR ?? path.join(REPO_ROOT, '.driftless', 'lab'));
}

export function schemaFile(name: 'config' | 'manifest' | 'verdict' | 'plan' | 'evidence'): string {
  return path.join(REPO_ROOT, 'schemas', `${name}.schema.json`);
}

let version: string | undefined;
export function harnessVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}
