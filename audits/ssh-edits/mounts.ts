/**
 * The mount table as the host's kernel reports it (/proc/self/mountinfo, read over SSH): which
 * mount each path sits on, and whether it is read-only. Only a read-only mount makes a path
 * immutable; a refusal by permissions on a read-write mount only means a more privileged user
 * can change it. Pure: text in, facts out.
 */

export interface Mount {
  mountPoint: string;
  fsType: string;
  source: string;
  /** Per-mount options (ro/rw, nosuid, ...) and the filesystem's own (super) options. */
  options: string[];
  superOptions: string[];
  readOnly: boolean;
}

/** mountinfo escapes space, tab, newline and backslash in paths as \ooo. */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    const dash = f.indexOf('-');
    if (f.length < 10 || dash < 6) continue;
    const options = f[5]!.split(',');
    const superOptions = (f[dash + 3] ?? '').split(',');
    out.push({
      mountPoint: unescape(f[4]!),
      fsType: f[dash + 1]!,
      source: unescape(f[dash + 2]!),
      options,
      superOptions,
      readOnly: options.includes('ro') || superOptions.includes('ro'),
    });
  }
  return out;
}

const within = (p: string, dir: string) => dir === '/' || p === dir || p.startsWith(`${dir}/`);

/** The mount `path` sits on: the longest mount point containing it; of stacked mounts, the last (topmost). */
export function mountOf(path: string, mounts: Mount[]): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) if (within(path, m.mountPoint) && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  return best;
}

export interface MountFinding {
  path: string;
  mount: Pick<Mount, 'mountPoint' | 'source' | 'fsType'>;
  why: string;
}

/**
 * Every immutable path must sit on a read-only mount, and no read-write mount may lie under one
 * (except under a writable path). Returns what breaks that; empty when it holds.
 */
export function writableUnderImmutable(immutable: string[], writable: string[], mounts: Mount[], resolved: Resolved = {}): MountFinding[] {
  const out: MountFinding[] = [];
  const brief = (m: Mount) => ({ mountPoint: m.mountPoint, source: m.source, fsType: m.fsType });
  for (const p of immutable) {
    // Judged where the path leads: a link into a read-write volume is that volume.
    const rp = resolved[p] ?? p;
    const name = rp === p ? p : `${p} (a link to ${rp})`;
    const m = mountOf(rp, mounts);
    if (!m) out.push({ path: p, mount: { mountPoint: '?', source: '?', fsType: '?' }, why: `${name} is on no mount the kernel lists` });
    else if (!m.readOnly) out.push({ path: p, mount: brief(m), why: `${name} is on ${m.mountPoint} (${m.source}, ${m.fsType}), mounted read-write` });
    for (const under of mounts) {
      if (under === m || under.readOnly || !within(under.mountPoint, rp) || under.mountPoint === rp) continue;
      if (writable.some((w) => within(under.mountPoint, resolved[w] ?? w))) continue;
      out.push({ path: p, mount: brief(under), why: `${under.mountPoint} (${under.source}, ${under.fsType}) is mounted read-write under ${name}` });
    }
  }
  return out;
}

/** Path as written → the path the kernel reaches (realpath on the host); a path not in it is taken as written. */
export type Resolved = Readonly<Record<string, string>>;

/** The mount a path really sits on: that of where it leads. */
export function mountOfResolved(path: string, mounts: Mount[], resolved: Resolved): Mount | undefined {
  return mountOf(resolved[path] ?? path, mounts);
}
