/**
 * Golden file manifests of a rootfs directory, an image, or a running container. The format,
 * validation, digest and diff (manifest-format.ts) and the remote command and its parser
 * (manifest-stream.ts) are re-exported here, so callers import everything from this one module.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { TMP_LABEL, tmpLabels } from './tmp-label.ts';
import { errorMessage, ManifestStreamError, UsageError } from '../core/errors.ts';
import {
  buildManifest,
  CONTAINER_RUNTIME_FILES,
  ENTRY_ERRORS,
  makeEntry,
  type Manifest,
  MANIFEST_DEFAULTS,
  normalizeScope,
  type RawEntry,
} from './manifest-format.ts';
import { parseManifestStream, remoteManifestCommand } from './manifest-stream.ts';

export * from './manifest-format.ts';
export * from './manifest-stream.ts';

export { TMP_LABEL } from './tmp-label.ts';

const HASH_BUFFER = 1 << 20; // per worker: big reads for big files, one read for most files
const HASH_CONCURRENCY = 8; // open files at once

// ---------------------------------------------------------------------------------------------
// A local rootfs directory, in Node

function assertDirectory(dir: string): string {
  const root = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new UsageError(`no such directory "${dir}": give a rootfs directory (e.g. a debootstrap tree) or an image name`);
  }
  if (!st.isDirectory()) throw new UsageError(`"${dir}" is not a directory: give a rootfs directory or an image name`);
  return root;
}

/**
 * The entries of `<dir>/<paths>` as the remote command would report them on a host whose `/` is
 * `dir`: same -xdev rule (mount points listed, not entered), same excludes (pruned with their
 * subtree), same errors. The walk is synchronous (cheap: lstat and readdir of a few thousand
 * entries); hashing streams every regular file through a 1 MiB buffer, a few files at a time.
 */
export async function scanDirectory(dir: string, paths: readonly string[], excludes: readonly string[]): Promise<RawEntry[]> {
  const root = assertDirectory(dir);
  const scope = normalizeScope(paths, excludes);
  const excluded = new Set(scope.excludes);
  const prefix = Buffer.from(root === '/' ? '' : root, 'utf8');
  const slash = Buffer.from('/');
  const asRoot = process.getuid?.() === 0;
  const raws: RawEntry[] = [];
  const toHash: Array<{ raw: RawEntry; full: Buffer }> = [];

  // Names are kept as bytes for every fs call (a name that is not UTF-8 still opens); only the
  // path written into the manifest is decoded, the same way the remote stream is decoded.
  const visit = (full: Buffer, display: string, st: fs.Stats, dev: number): void => {
    const kind = st.isFile() ? 'f' : st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'o';
    const raw: RawEntry = { path: display, kind, perm: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: st.size };
    raws.push(raw);
    if (kind === 'l') {
      raw.target = fs.readlinkSync(full, { encoding: 'buffer' }).toString('utf8');
    } else if (kind === 'f') {
      if (!asRoot && !accessible(full, fs.constants.R_OK)) raw.error = ENTRY_ERRORS.unreadable;
      else toHash.push({ raw, full });
    } else if (kind === 'd') {
      if (!accessible(full, fs.constants.R_OK | fs.constants.X_OK)) {
        raw.error = ENTRY_ERRORS.unlistable;
        return;
      }
      if (st.dev !== dev) return; // -xdev
      let names: Buffer[];
      try {
        names = fs.readdirSync(full, { encoding: 'buffer' });
      } catch {
        return; // find reports this on stderr only; so do we (nothing)
      }
      for (const name of names) {
        const childDisplay = `${display}/${name.toString('utf8')}`;
        if (excluded.has(childDisplay)) continue;
        const childFull = Buffer.concat([full, slash, name]);
        let cst: fs.Stats;
        try {
          cst = fs.lstatSync(childFull);
        } catch {
          continue; // vanished
        }
        visit(childFull, childDisplay, cst, dev);
      }
    }
  };

  for (const p of scope.paths) {
    if (excluded.has(p)) continue;
    const full = Buffer.concat([prefix, Buffer.from(p, 'utf8')]);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(full);
    } catch {
      continue; // a path the tree does not have: the remote command skips it too
    }
    visit(full, p, st, st.dev);
  }
  await hashAll(toHash);
  return raws;
}

function accessible(p: Buffer, mode: number): boolean {
  try {
    fs.accessSync(p, mode);
    return true;
  } catch {
    return false;
  }
}

async function hashAll(files: Array<{ raw: RawEntry; full: Buffer }>): Promise<void> {
  let next = 0;
  const worker = async () => {
    const buf = Buffer.allocUnsafe(HASH_BUFFER);
    while (next < files.length) {
      const f = files[next++]!;
      try {
        f.raw.sha256 = await hashFile(f.full, buf);
      } catch {
        // makeEntry marks a file without a hash as not hashed, like the remote command does
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(HASH_CONCURRENCY, files.length) }, worker));
}

function read(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, buf.length, null, (err, n) => (err ? reject(err) : resolve(n))));
}

async function hashFile(file: Buffer, buf: Buffer): Promise<string> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(file, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
  try {
    const h = crypto.createHash('sha256');
    for (;;) {
      const n = await read(fd, buf);
      if (n === 0) break;
      h.update(buf.subarray(0, n)); // update copies into the hash state, so the buffer is reused
    }
    return h.digest('hex');
  } finally {
    fs.close(fd, () => {});
  }
}

/** The golden manifest of a rootfs directory (paths shown as on the host it becomes: /etc/...). */
export async function manifestOfDirectory(
  dir: string,
  paths: readonly string[] = MANIFEST_DEFAULTS.paths,
  excludes: readonly string[] = MANIFEST_DEFAULTS.excludes,
): Promise<Manifest> {
  const raws = await scanDirectory(dir, paths, excludes);
  return buildManifest(raws.map(makeEntry), { root: `dir:${path.resolve(dir)}`, paths, excludes });
}

/**
 * The same manifest, but by running the remote command locally with `sh -c` against `<dir>/...`.
 * Used to prove the two producers agree, and as a benchmark baseline.
 */
export async function manifestOfDirectoryViaShell(
  dir: string,
  paths: readonly string[] = MANIFEST_DEFAULTS.paths,
  excludes: readonly string[] = MANIFEST_DEFAULTS.excludes,
): Promise<Manifest> {
  const root = assertDirectory(dir);
  const script = remoteManifestCommand(paths, excludes, { root });
  const { stdout, stderr, code } = await new Promise<{ stdout: Buffer; stderr: string; code: number | null }>((resolve, reject) => {
    const p = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    p.on('error', reject);
    p.on('close', (c) => resolve({ stdout: Buffer.concat(out), stderr: err, code: c }));
  });
  const entries = withStderr(() => parseManifestStream(stdout, { root }), stderr, `sh exited ${code}`);
  return buildManifest(entries, { root: `dir:${root}`, paths, excludes });
}

function withStderr<T>(fn: () => T, stderr: string, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ManifestStreamError && stderr.trim()) {
      throw new ManifestStreamError(`${err.message} (${what}; stderr: ${stderr.trim().split('\n').slice(-5).join(' | ')})`);
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Docker: a running container, or an image through a short-lived container

function statusCode(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

/**
 * Runs the remote command inside a running container with `docker exec sh -c` as root: the same
 * observation a host gets over SSH, so image and host manifests compare like for like. The files
 * the runtime writes into every container (CONTAINER_RUNTIME_FILES) are always left out.
 */
export async function manifestOfContainer(
  docker: Docker,
  container: string,
  paths: readonly string[] = MANIFEST_DEFAULTS.paths,
  excludesAsked: readonly string[] = MANIFEST_DEFAULTS.excludes,
  root = `container:${container}`,
): Promise<Manifest> {
  const excludes = [...new Set([...excludesAsked, ...CONTAINER_RUNTIME_FILES])];
  const script = remoteManifestCommand(paths, excludes);
  let r;
  try {
    // Loaded on use: auditing SSH hosts never needs the Docker client.
    const { execIn } = await import('./docker.ts');
    r = await execIn(docker, container, ['sh', '-c', script], '0');
  } catch (err) {
    if (statusCode(err) === 404) throw new UsageError(`no such container "${container}" on the Docker engine`);
    if (statusCode(err) === 409) throw new UsageError(`container "${container}" is not running: a manifest is taken from a running container`);
    throw err;
  }
  const entries = withStderr(() => parseManifestStream(r.stdout), r.stderr, `exit ${r.exitCode} in ${container}`);
  return buildManifest(entries, { root, paths, excludes });
}

/**
 * The golden manifest of an image (less CONTAINER_RUNTIME_FILES, the scanning container's own): a container is created from it (entrypoint `sleep 600`, root
 * filesystem read-only, host network, label driftless.tmp=manifest, auto-removed), the remote
 * command runs in it with docker exec, and the container is removed in `finally`, whatever
 * happened. Chosen over `docker export` + tar hashing in Node because it observes the image
 * exactly the way a running host is observed (same overlayfs, same find, same sha256sum).
 * Needs sh, sleep, GNU find and sha256sum in the image (any Debian-based image has them).
 */
export async function manifestOfImage(
  docker: Docker,
  imageRef: string,
  paths: readonly string[] = MANIFEST_DEFAULTS.paths,
  excludes: readonly string[] = MANIFEST_DEFAULTS.excludes,
): Promise<Manifest> {
  normalizeScope(paths, excludes); // bad input fails before anything is created
  let imageId: string;
  let imageLabels: Record<string, string> | undefined;
  try {
    const img = await docker.getImage(imageRef).inspect();
    imageId = img.Id;
    imageLabels = img.Config?.Labels ?? undefined;
  } catch (err) {
    if (statusCode(err) === 404)
      throw new UsageError(`no such image "${imageRef}" on the Docker engine: build or pull it first (\`docker images\` lists what is there)`);
    throw err;
  }
  const c = await docker.createContainer({
    Image: imageId,
    Entrypoint: ['sleep'],
    Cmd: ['600'],
    User: '0',
    Labels: tmpLabels(imageLabels), // the image's own labels cleared: no fleet lists it as a host
    HostConfig: { NetworkMode: 'host', ReadonlyRootfs: true, AutoRemove: true },
  });
  try {
    try {
      await c.start();
    } catch (err) {
      throw new ManifestStreamError(
        `could not start a container from image "${imageRef}" to scan it (does it have \`sleep\` and \`sh\`?): ${errorMessage(err)}`,
      );
    }
    return await manifestOfContainer(docker, c.id, paths, excludes, `image:${imageRef}@${imageId}`);
  } finally {
    await removeTmpContainer(docker, c.id);
  }
}

/** Removes one of our temporary containers and waits until the engine no longer lists it. */
async function removeTmpContainer(docker: Docker, id: string): Promise<void> {
  const ct = docker.getContainer(id);
  try {
    await ct.remove({ force: true });
  } catch (err) {
    // 404: already gone; 409: auto-removal is already in progress (we wait for it below)
    if (statusCode(err) !== 404 && statusCode(err) !== 409) throw err;
  }
  for (let i = 0; i < 100; i++) {
    try {
      await ct.inspect();
    } catch (err) {
      if (statusCode(err) === 404) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ManifestStreamError(
    `temporary container ${id.slice(0, 12)} (label ${TMP_LABEL.key}=${TMP_LABEL.value}) was not removed within 10 s: remove it with \`docker rm -f ${id.slice(0, 12)}\``,
  );
}
