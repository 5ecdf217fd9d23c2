/**
 * driftless only ever empties or removes a folder it created: one that carries its marker file,
 * or one that does not exist yet (or is empty). Anything else, the current directory named by an
 * empty path, a checkout, a home, is refused with the path named, before anything is touched.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.ts';

export const OWNED_MARKER = '.driftless-output';

function isOwned(dir: string): boolean {
  return fs.existsSync(path.join(dir, OWNED_MARKER));
}

/** The reason `dir` may not be emptied by driftless, or undefined when it may. */
export function whyNotOwned(dir: string, what: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  if (!fs.statSync(dir).isDirectory()) return `${what} ${dir} is a file, not a folder: name a new folder`;
  if (isOwned(dir) || fs.readdirSync(dir).length === 0) return undefined;
  return `${what} ${dir} exists and was not created by driftless (no ${OWNED_MARKER} in it): driftless empties only folders it created; name a new or empty folder`;
}

/** Checks every path first (nothing is touched if any is refused), then empties each and marks it. */
export function prepareOwnedDirs(dirs: Array<{ dir: string; what: string; option: string }>): void {
  for (const d of dirs) {
    if (!d.dir.trim()) throw new UsageError(`${d.option} "": an empty path names the current directory, which driftless will not empty; name a folder`);
  }
  const refused = dirs.map((d) => whyNotOwned(path.resolve(d.dir), `${d.option}: ${d.what}`)).filter((x): x is string => !!x);
  if (refused.length) throw new UsageError(refused.join('\n'));
  for (const d of dirs) resetOwnedDir(path.resolve(d.dir));
}

/** Empties (or creates) a folder driftless owns and marks it; callers check whyNotOwned first. */
export function resetOwnedDir(dir: string): void {
  const why = whyNotOwned(dir, 'folder');
  if (why) throw new UsageError(why);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, OWNED_MARKER), 'made by driftless: it may empty this folder on its next run\n');
}

/** Creates a folder under the output folder if missing, marked as driftless's own (never emptied here). */
export function ensureOwnedParent(dir: string): void {
  if (fs.existsSync(dir)) return;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, OWNED_MARKER), 'made by driftless\n');
}
