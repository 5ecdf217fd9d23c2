/**
 * Directories one side of the golden manifest comparison could not list. Everything under them
 * is left out of the comparison, so a file added there (/etc/sudoers.d/backdoor, by a login user
 * who cannot list /etc/sudoers.d) would be invisible: such a directory is never vouched for by
 * policy.manifest.metadataOnly, only by proof that its listing is the image's. The one proof
 * available is the container engine's own diff of the container against its image, when that is
 * the image the release declares: taken by the engine as root, it lists every entry added, changed
 * or deleted in the container.
 * Pure: manifests and the engine's facts in, a verdict per directory out.
 */
import { ENTRY_ERRORS, type Manifest } from '../../probes/manifest.ts';

export type Side = 'expected' | 'actual' | 'both';

export interface UnlistedDir {
  path: string;
  side: Side;
  /** How its listing was proven to be the declared image's. */
  provenBy?: string;
  /** Why it could not be: DL-IMG-006 is then broken. */
  notProven?: string;
}

/** What the container engine says about the container, when the host is one. */
export interface EngineView {
  /** The engine's diff of the container against the image it runs (`docker diff`). */
  changes?: { error?: string; list: ReadonlyArray<{ Path: string; Kind: number }> };
  /** Mount points in the container: the engine's diff does not see into them. */
  mounts: readonly string[];
  /** The container runs the image the release declares, which the golden manifest describes. */
  runsDeclaredImage: boolean;
  /** The declared image, for the evidence. */
  image: string;
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);
const KIND = ['C', 'A', 'D'];

/** The directories either side could not list, outermost only (one inside another is left out with it). */
export function unlistedDirs(expected: Manifest, actual: Manifest): Array<{ path: string; side: Side }> {
  const of = (m: Manifest) => new Set(m.entries.filter((e) => e.error === ENTRY_ERRORS.unlistable).map((e) => e.path));
  const e = of(expected);
  const a = of(actual);
  const all = [...new Set([...e, ...a])].sort();
  return all
    .filter((p) => !all.some((q) => q !== p && under(p, q)))
    .map((path) => ({ path, side: e.has(path) && a.has(path) ? 'both' : e.has(path) ? 'expected' : 'actual' }));
}

/** Each unlisted directory, proven the image's by the engine's diff, or not (and why not). */
export function proveListings(dirs: ReadonlyArray<{ path: string; side: Side }>, engine: EngineView | undefined): UnlistedDir[] {
  return dirs.map((d) => {
    const no = (notProven: string): UnlistedDir => ({ ...d, notProven });
    if (!engine) return no('no other means: only a container engine can prove what lies in a directory the login user cannot list');
    if (!engine.runsDeclaredImage)
      return no(`the container does not run the declared image ${engine.image}, so the engine's diff (against its own image) proves nothing`);
    if (!engine.changes || engine.changes.error) return no(`the engine's diff of the container was not taken: ${engine.changes?.error ?? 'no diff'}`);
    const mount = engine.mounts.find((m) => under(m, d.path) || under(d.path, m));
    if (mount) return no(`${mount} is a mount point in the container, and the engine's diff does not see into mounts`);
    const changed = engine.changes.list.filter((c) => under(c.Path, d.path));
    if (changed.length) {
      const shown = changed.slice(0, 5).map((c) => `${KIND[c.Kind] ?? '?'} ${c.Path}`);
      return no(`the engine's diff reports changes in it: ${shown.join(', ')}${changed.length > 5 ? ` … (${changed.length} in all)` : ''}`);
    }
    return { ...d, provenBy: `the engine's diff of the container against ${engine.image} reports no change in it` };
  });
}
