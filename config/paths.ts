/** Local file paths in a config are relative to the config file's directory, or to ~. */
import path from 'node:path';
import { labStateDir } from '../core/paths.ts';
import { whyUnreadable } from './parse.ts';

export function resolveLocal(p: string, baseDir: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return path.resolve(baseDir, p);
}

/** Files under the lab's state directory are written by `driftless lab up`: say so. */
function labHint(abs: string): string {
  const inLab = abs.startsWith(labStateDir() + path.sep) || abs.includes(`${path.sep}.driftless${path.sep}lab${path.sep}`);
  return inLab ? '; run `driftless lab up` to create it' : '';
}

/** Undefined when readable; otherwise the sentence for the config's problem list. */
export function unreadableFile(what: string, written: string, abs: string): string | undefined {
  const why = whyUnreadable(abs);
  if (!why) return undefined;
  const where = written === abs ? '' : ` (resolved to ${abs})`;
  return `cannot read ${what} ${written}: ${why}${where}${labHint(abs)}`;
}
