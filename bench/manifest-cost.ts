/**
 * The harness's own cost of a full-manifest audit per host, without the host: the CPU driftless
 * spends turning one host's manifest stream (what the on-host script prints for the golden tree,
 * as the unprivileged login user sees it) into the comparison and the digests DL-IMG-006 judges.
 *
 *   general: parseManifestStream → buildManifest (sort, schema) → compareManifests → manifestDigest,
 *            what every host cost before the golden manifest was compiled (still the path of
 *            `driftless manifest` and of manifests compared outside an audit);
 *   compiled: compileGolden once, then compareWithGolden per host (audits/image/golden.ts), what
 *            the image audit does now.
 *
 * Each method runs in its own process (so neither warms the other's code), over `hosts` copies of
 * the stream (each host's bytes decoded again, as each SSH answer is); the figure is CPU seconds
 * (user + system) per host, compile and start-up excluded but reported.
 *
 *   node --import tsx bench/manifest-cost.ts <golden.json> [hosts]     (prints both, JSON)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareManifests } from '../audits/image/compare.ts';
import { compareWithGolden, compileGolden } from '../audits/image/golden.ts';
import { buildManifest, type Manifest, manifestDigest, parseManifestStream } from '../probes/manifest.ts';
import { streamOf } from '../test/helpers/manifest-stream.ts';
import { ratio, round } from './stats.ts';

const SELF = fileURLToPath(import.meta.url);
const REPO_ROOT = path.resolve(path.dirname(SELF), '..');

export type CostMethod = 'general' | 'compiled';

export interface MethodCost {
  method: CostMethod;
  hosts: number;
  /** CPU ms (user + system) per host, the loop only. */
  cpuMsPerHost: number;
  wallMsPerHost: number;
  /** Once per golden manifest (compiled only): read, compile. */
  setupMs: number;
  /** Peak RSS of the process, MiB. */
  peakRssMiB: number;
}

export interface ManifestCostResult {
  golden: { source: string; entries: number; files: number; streamBytes: number; unreadableToUser: number };
  command: string;
  methods: MethodCost[];
  /** general / compiled CPU per host. */
  ratioCpu: number;
}

/** One method over `hosts` hosts, in this process. */
function measure(method: CostMethod, golden: Manifest, stream: Buffer, hosts: number): MethodCost {
  const s0 = performance.now();
  const g = method === 'compiled' ? compileGolden(golden) : undefined;
  if (!g) manifestDigest(golden); // the general path cached the golden's entry digests once, too
  const setupMs = performance.now() - s0;
  let drift = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < hosts; i++) {
    const text = stream.toString('utf8');
    if (g) drift += compareWithGolden(g, text).comparison.driftCount;
    else {
      const actual = buildManifest(parseManifestStream(text), { root: `ssh:audit@h${i}:22`, paths: golden.paths, excludes: golden.excludes });
      drift += compareManifests(golden, actual).driftCount;
      manifestDigest(golden);
      manifestDigest(actual);
    }
  }
  const c = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  if (drift) throw new Error(`${method}: the golden tree's own stream drifted (${drift} entries)`);
  return {
    method,
    hosts,
    cpuMsPerHost: round((c.user + c.system) / 1000 / hosts, 2),
    wallMsPerHost: round(wall / hosts, 2),
    setupMs: round(setupMs, 1),
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024, 1),
  };
}

/** Both methods, each in a fresh process, over the golden manifest in `goldenFile`. */
export function benchManifestCost(opts: { goldenFile: string; source: string; hosts?: number }): ManifestCostResult {
  const hosts = opts.hosts ?? 200;
  const golden = JSON.parse(fs.readFileSync(opts.goldenFile, 'utf8')) as Manifest;
  const stream = streamOf(golden, { asUser: true });
  const methods = (['general', 'compiled'] as const).map((m) => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--method', m, opts.goldenFile, String(hosts)], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`manifest cost (${m}) failed: ${(r.stderr || r.stdout).trim().slice(-500)}`);
    return JSON.parse(r.stdout) as MethodCost;
  });
  const unreadable = parseManifestStream(stream).filter((e) => e.error).length;
  return {
    golden: {
      source: opts.source,
      entries: golden.entries.length,
      files: golden.entries.filter((e) => e.type === 'file').length,
      streamBytes: stream.length,
      unreadableToUser: unreadable,
    },
    command: `node --import tsx bench/manifest-cost.ts ${path.relative(REPO_ROOT, opts.goldenFile)} ${hosts}`,
    methods,
    ratioCpu: ratio(methods[0]!.cpuMsPerHost, methods[1]!.cpuMsPerHost),
  };
}

if (process.argv[1] === SELF) {
  const args = process.argv.slice(2);
  if (args[0] === '--method') {
    const golden = JSON.parse(fs.readFileSync(args[2]!, 'utf8')) as Manifest;
    process.stdout.write(JSON.stringify(measure(args[1] as CostMethod, golden, streamOf(golden, { asUser: true }), Number(args[3] ?? 200))) + '\n');
  } else {
    if (!args[0]) throw new Error('usage: node --import tsx bench/manifest-cost.ts <golden.json> [hosts]');
    process.stdout.write(JSON.stringify(benchManifestCost({ goldenFile: args[0], source: args[0], hosts: Number(args[1] ?? 200) }), null, 2) + '\n');
  }
}
