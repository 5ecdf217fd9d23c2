/**
 * One timed `manifestOfDirectory` pass, in its own process so bench/hash.ts can pin it to one core
 * with taskset (the libuv hashing threads inherit the affinity). Only the manifest call is timed:
 * node and tsx start-up are not part of what a user waits for per host.
 *
 * Usage: node --import tsx bench/hash-worker.ts <rootfs dir>
 * Prints one JSON line: { seconds, files, bytes, entries }.
 */
import { performance } from 'node:perf_hooks';
import { MANIFEST_DEFAULTS, manifestOfDirectory } from '../probes/manifest.ts';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node --import tsx bench/hash-worker.ts <rootfs dir>\n');
  process.exit(2);
}
const t0 = performance.now();
const m = await manifestOfDirectory(dir, MANIFEST_DEFAULTS.paths, MANIFEST_DEFAULTS.excludes);
const seconds = (performance.now() - t0) / 1000;
const files = m.entries.filter((e) => e.type === 'file');
// Files without a hash would make the pass look faster than it is: refuse to report them.
const unhashed = files.filter((e) => !e.sha256).length;
if (unhashed > 0) {
  process.stderr.write(`hash-worker: ${unhashed} files not hashed under ${dir}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ seconds, files: files.length, bytes: files.reduce((s, e) => s + e.size, 0), entries: m.entries.length })}\n`);
