/**
 * Finds the team's check files (config `checks`: globs, relative to the config) and loads each in
 * this process to learn what it declares, before anything is planned or probed. A file that does
 * not load, or a control() that does not validate, is a config error naming the file and line
 * (exit 2, nothing touched); two files declaring one id is one too.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { glob } from 'tinyglobby';
import type { Config } from '../../core/config.ts';
import { ChecksLoadError } from '../../core/errors.ts';
import { endDiscovery, type FileDeclarations, startDiscovery } from './declare.ts';
import { escapeRegExp } from '../../core/regexp.ts';

let loads = 0;

/** "file:line: message" from an error thrown while a file loaded (a syntax error, a failed import, an invalid declaration). */
function located(err: unknown, file: string, display: string): string {
  const e = err as { message?: string; stack?: string };
  const text = `${e?.stack ?? ''}\n${e?.message ?? ''}`;
  const esc = escapeRegExp(file);
  const at = new RegExp(`${esc}(?:\\?[^:\\s]*)?:(\\d+)(?::(\\d+))?`).exec(text);
  const first = (e?.message ?? String(err)).split('\n').find((l) => l.trim()) ?? 'unknown error';
  return `${display}${at ? `:${at[1]}` : ''}: ${first.replace(/^Transform failed with \d+ errors?:\s*/, '').replace(new RegExp(`^${esc}:\\d+:\\d+: `), '')}`;
}

export interface Discovered {
  files: string[];
  declared: FileDeclarations[];
}

export async function discoverChecks(config: Config): Promise<Discovered> {
  const globs = config.checks ?? [];
  if (globs.length === 0) return { files: [], declared: [] };
  const base = path.dirname(config.source.file);
  const files = (await glob(globs, { cwd: base, absolute: true, onlyFiles: true })).sort();
  if (files.length === 0) throw new ChecksLoadError(`${config.source.file}: checks: no file matches ${globs.join(', ')} (relative to ${base})`);
  const declared: FileDeclarations[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const display = path.relative(process.cwd(), file) || file;
    startDiscovery(file);
    try {
      // A query makes each discovery load the file afresh (a second run in one process, a test).
      await import(`${pathToFileURL(file).href}?discover=${++loads}`);
    } catch (err) {
      endDiscovery();
      throw new ChecksLoadError(`check file ${located(err, file, display)}`);
    }
    const found = endDiscovery();
    if (found.controls.length === 0)
      throw new ChecksLoadError(`check file ${display} declares no control(): a check file declares the control its tests check`);
    for (const c of found.controls) {
      const other = seen.get(c.declaration.id);
      if (other) throw new ChecksLoadError(`check file ${display}: control ${c.declaration.id} is already declared in ${other}: a control is declared once`);
      seen.set(c.declaration.id, display);
    }
    declared.push(found);
  }
  return { files, declared };
}
