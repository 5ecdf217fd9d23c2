/**
 * Can an inode-change-time sweep make the integrity check cheaper and stay sound? (issue #17
 * item 6: a measurement only, nothing in the audit uses it.)
 *
 * The kernel sets a file's ctime to the current time on every write, chmod, chown, rename or
 * `touch -d`, and userspace cannot set it back (short of changing the clock). So on a host, a file
 * whose ctime is older than the host's creation has not changed since, and only files with
 * ctime >= creation need hashing; the metadata of every entry is compared anyway. This times, each
 * pinned to one core with the page cache warm, on a copy of the lab image's extracted root
 * filesystem (default manifest scope):
 *  - full: the on-host manifest script (`remoteManifestCommand`), hashing every regular file;
 *  - sweep: the same single `find` pass, hashing only files with `-newerct @<creation - slack>`
 *    (find already lstat()s every entry for the metadata, so the test costs no extra syscall);
 * with 0, 10 and 100 files touched after the "creation", and checks that the sweep hashed exactly
 * the touched files, with the hashes of the full scan, and the same metadata for every entry.
 *
 * Usage: node --import tsx bench/ctime.ts [repeats]   (default 7; JSON on stdout and in bench/tmp/ctime.json)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { connectEngine } from '../probes/docker.ts';
import { type ManifestEntry, MANIFEST_DEFAULTS, parseManifestStream, remoteManifestCommand } from '../probes/manifest.ts';
import { IMAGES } from '../lab/lab-plan.ts';
import { hasTaskset, rootfsOf, runShellTimed } from './hash.ts';
import { log, ratio, round, summarize, type Summary } from './stats.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TMP_DIR = path.join(REPO_ROOT, 'bench', 'tmp');
/** ctime comes from the kernel's coarse clock (a tick behind): the threshold is taken this much early. */
const SLACK_SECONDS = 1;
const HASH_ALL = '-type f -exec sha256sum --zero {} +';

/** The one-pass manifest script, hashing only the files whose ctime is after `since` (epoch seconds). */
export function sweepCommand(paths: readonly string[], excludes: readonly string[], opts: { root: string; since: number }): string {
  const full = remoteManifestCommand(paths, excludes, { root: opts.root });
  if (!full.includes(HASH_ALL)) throw new Error('remoteManifestCommand has no one-pass `-exec sha256sum --zero` to narrow');
  return full.replace(HASH_ALL, `-type f -newerct @${opts.since.toFixed(3)} -exec sha256sum --zero {} +`);
}

export interface CtimeStage {
  /** Files touched after the threshold (cumulative over the stages). */
  touched: number;
  /** Files the sweep hashed (the touched ones and their other hard links), and their bytes. */
  candidates: number;
  candidateBytes: number;
  full: { seconds: Summary; cpuSeconds: Summary };
  sweep: { seconds: Summary; cpuSeconds: Summary };
  /** full / sweep (medians): how many times cheaper the sweep is. */
  ratioWall: number;
  ratioCpu: number;
}

export interface CtimeResult {
  tree: { dir: string; image: string; imageId: string; entries: number; files: number; bytes: number };
  pinning: string;
  repeats: number;
  slackSeconds: number;
  stages: CtimeStage[];
  note: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function runScript(script: string, what: string): Buffer {
  const r = spawnSync('sh', ['-c', script], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}: ${r.stderr.toString().trim().slice(-500)}`);
  return r.stdout;
}

const meta = (e: ManifestEntry) => JSON.stringify([e.type, e.mode, e.uid, e.gid, e.size, e.target]);

export async function benchCtime(opts: { repeats?: number; touched?: number[] } = {}): Promise<CtimeResult> {
  const repeats = opts.repeats ?? 7;
  const touchedCounts = opts.touched ?? [0, 10, 100];
  const { dir: rootfs, imageId } = await rootfsOf(await connectEngine(), IMAGES.cattle);
  const pin = hasTaskset() ? ['taskset', '-c', '0'] : [];
  const work = path.join(TMP_DIR, 'ctime-tree');
  const { paths, excludes } = MANIFEST_DEFAULTS;
  fs.rmSync(work, { recursive: true, force: true });
  try {
    log(`ctime: copying ${path.relative(REPO_ROOT, rootfs)} to ${path.relative(REPO_ROOT, work)}`);
    if (spawnSync('cp', ['-a', `${rootfs}/.`, work]).status !== 0) throw new Error('cp -a failed');
    await sleep((SLACK_SECONDS + 0.5) * 1000);
    // "The host was created" now: every file of the copy is older, everything touched below newer.
    const since = Date.now() / 1000 - SLACK_SECONDS;
    const fullScript = remoteManifestCommand(paths, excludes, { root: work });
    const sweepScript = sweepCommand(paths, excludes, { root: work, since });

    const golden = new Map(parseManifestStream(runScript(fullScript, 'full scan'), { root: work }).map((e) => [e.path, e]));
    const files = [...golden.values()].filter((e) => e.type === 'file' && e.sha256).sort((a, b) => (a.path < b.path ? -1 : 1));
    const most = Math.max(...touchedCounts);
    // Evenly spread over the sorted files, so the touched sizes are typical; the first stages touch a subset.
    const picks = Array.from({ length: most }, (_, i) => files[Math.floor(((i + 0.5) * files.length) / most)]!);
    const order = [...picks.filter((_, i) => i % 10 === 0), ...picks.filter((_, i) => i % 10 !== 0)];
    const touched = new Set<string>();

    const stages: CtimeStage[] = [];
    for (const n of [...touchedCounts].sort((a, b) => a - b)) {
      for (const e of order.slice(touched.size, n)) {
        const now = new Date();
        fs.utimesSync(path.join(work, e.path), now, now); // content unchanged: sets mtime, and so ctime
        touched.add(e.path);
      }
      // Soundness first: exactly the touched files hashed, same hashes, same metadata everywhere.
      const swept = parseManifestStream(runScript(sweepScript, 'sweep'), { root: work });
      const hashed = swept.filter((e) => e.sha256);
      for (const e of swept) {
        const g = golden.get(e.path);
        if (!g || meta(g) !== meta(e)) throw new Error(`sweep: ${e.path} differs from the full scan`);
        if (e.sha256 && e.sha256 !== g.sha256) throw new Error(`sweep: ${e.path} hashed differently`);
      }
      // A touch changes the inode, so the other hard links of a touched file are candidates too.
      const inode = (p: string) => fs.lstatSync(path.join(work, p)).ino;
      const touchedInodes = new Set([...touched].map(inode));
      const expected = files.filter((e) => touchedInodes.has(inode(e.path))).length;
      if (
        swept.length !== golden.size ||
        hashed.length !== expected ||
        hashed.some((e) => !touchedInodes.has(inode(e.path))) ||
        [...touched].some((p) => !hashed.some((e) => e.path === p))
      )
        throw new Error(`sweep hashed ${hashed.length} files, ${touched.size} were touched (${expected} paths with their hard links)`);

      const samples = { full: [] as number[], fullCpu: [] as number[], sweep: [] as number[], sweepCpu: [] as number[] };
      const one = async (k: 'full' | 'sweep') => {
        const r = await runShellTimed(pin, `{\n${k === 'full' ? fullScript : sweepScript}\n} >/dev/null`, k);
        samples[k].push(r.seconds);
        samples[k === 'full' ? 'fullCpu' : 'sweepCpu'].push(r.cpu);
      };
      await one('full');
      await one('sweep');
      for (const k of ['full', 'fullCpu', 'sweep', 'sweepCpu'] as const) samples[k].length = 0; // warm-up
      for (let i = 0; i < repeats; i++) for (const k of i % 2 ? (['sweep', 'full'] as const) : (['full', 'sweep'] as const)) await one(k);
      const stage: CtimeStage = {
        touched: touched.size,
        candidates: hashed.length,
        candidateBytes: hashed.reduce((s, e) => s + e.size, 0),
        full: { seconds: summarize(samples.full), cpuSeconds: summarize(samples.fullCpu) },
        sweep: { seconds: summarize(samples.sweep), cpuSeconds: summarize(samples.sweepCpu) },
        ratioWall: 0,
        ratioCpu: 0,
      };
      stage.ratioWall = ratio(stage.full.seconds.median, stage.sweep.seconds.median);
      stage.ratioCpu = ratio(stage.full.cpuSeconds.median, stage.sweep.cpuSeconds.median);
      log(
        `ctime: ${n} touched (${round(stage.candidateBytes / 1e6, 2)} MB): full ${stage.full.seconds.median} s / ${stage.full.cpuSeconds.median} CPU s, ` +
          `sweep ${stage.sweep.seconds.median} s / ${stage.sweep.cpuSeconds.median} CPU s`,
      );
      stages.push(stage);
    }
    return {
      tree: {
        dir: path.relative(REPO_ROOT, work),
        image: IMAGES.cattle,
        imageId,
        entries: golden.size,
        files: files.length,
        bytes: files.reduce((s, e) => s + e.size, 0),
      },
      pinning: pin.length ? 'taskset -c 0 (both methods on the same single core)' : 'unpinned: taskset not found or not permitted',
      repeats,
      slackSeconds: SLACK_SECONDS,
      stages,
      note:
        'full = remoteManifestCommand (one find pass, every regular file hashed with sha256sum --zero); sweep = the same pass with ' +
        '-newerct @<threshold> before the -exec, so only files whose ctime is after the threshold are hashed. Both print the metadata ' +
        'of every entry; output discarded (not parsed) while timed. Page cache warm; order alternated; CPU seconds from the shell `times`.',
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await benchCtime({ repeats: Number(process.argv[2] ?? 7) });
  fs.mkdirSync(TMP_DIR, { recursive: true });
  fs.writeFileSync(path.join(TMP_DIR, 'ctime.json'), `${JSON.stringify(r, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}
