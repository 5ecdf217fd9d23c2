/**
 * The lab's images. The base is debian:bookworm-slim when a registry answers, otherwise a
 * debootstrap minbase rootfs from this machine's mirror, imported once and then reused.
 */
import type Docker from 'dockerode';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { followProgress } from '../probes/docker.ts';
import { errorMessage, LabError } from '../core/errors.ts';
import { findMirror } from './mirror.ts';
import { REPO_ROOT } from '../core/paths.ts';
import { IMAGES } from './lab-plan.ts';
import { buildInputsId, cleanCommit, type LabBuild } from './attest.ts';

type Log = (line: string) => void;

export async function imageId(docker: Docker, ref: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(ref).inspect()).Id;
  } catch {
    return undefined;
  }
}

function run(cmd: string, args: string[], log: Log): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (b: Buffer) => {
      tail = (tail + b.toString()).slice(-2000);
    };
    p.stdout.on('data', keep);
    p.stderr.on('data', keep);
    p.on('error', (e) => reject(new LabError(`could not run ${cmd}: ${e.message}`)));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new LabError(`${cmd} ${args.join(' ')} exited ${code}:\n${tail}`))));
    log(`  $ ${cmd} ${args.join(' ')}`);
  });
}

async function tryPull(docker: Docker, ref: string, log: Log): Promise<boolean> {
  try {
    const stream = await docker.pull(ref);
    await followProgress(docker, stream);
    log(`  pulled ${ref}`);
    return true;
  } catch (err) {
    log(`  cannot pull ${ref} (${errorMessage(err).split('\n')[0]}); building the base from debootstrap instead`);
    return false;
  }
}

async function debootstrapBase(docker: Docker, log: Log): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new LabError(
      'building the lab base image needs debootstrap as root (no registry answered for debian:bookworm-slim): run `driftless lab up` as root, or load debian:bookworm-slim into the engine',
    );
  }
  const mirror = findMirror('bookworm');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-rootfs-'));
  try {
    log(`  debootstrap --variant=minbase bookworm from ${mirror} (about a minute, once)`);
    await run('debootstrap', ['--variant=minbase', 'bookworm', root, mirror], log);
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [repo, tag] = IMAGES.base.split(':') as [string, string];
    const stream = await docker.importImage(tar.stdout as unknown as string, { repo, tag });
    await followProgress(docker, stream);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** Makes sure the base image exists; returns its id. */
export async function ensureBase(docker: Docker, log: Log): Promise<string> {
  let id = await imageId(docker, IMAGES.base);
  if (id) {
    log(`  base image ${IMAGES.base} cached (${id.slice(0, 19)})`);
    return id;
  }
  if (await tryPull(docker, 'debian:bookworm-slim', log)) {
    await docker.getImage('debian:bookworm-slim').tag({ repo: IMAGES.base.split(':')[0]!, tag: 'bookworm' });
  } else {
    await debootstrapBase(docker, log);
  }
  id = await imageId(docker, IMAGES.base);
  if (!id) throw new LabError(`the base image ${IMAGES.base} is missing after it was built`);
  return id;
}

/** One image built from lab/images/<dir>, and what it was built from (lab/attest.ts signs that). */
async function build(docker: Docker, dir: string, ref: string, log: Log, target?: string, extra: Record<string, string> = {}): Promise<LabBuild> {
  const context = path.join(REPO_ROOT, 'lab', 'images', dir);
  const args = { BASE: IMAGES.base, ...extra };
  const startedOn = new Date().toISOString();
  const stream = await docker.buildImage({ context, src: fs.readdirSync(context) }, {
    t: ref,
    networkmode: 'host',
    buildargs: args,
    ...(target ? { target } : {}),
  } as Docker.ImageBuildOptions);
  let steps = 0;
  try {
    await followProgress(docker, stream, (line) => {
      if (/^Step \d+/.test(line)) steps++;
    });
  } catch (err) {
    throw new LabError(`building ${ref} from lab/images/${dir} failed: ${errorMessage(err)}`);
  }
  const id = await imageId(docker, ref);
  if (!id) throw new LabError(`building ${ref} finished but the image is missing`);
  log(`  ${ref} = ${id} (${steps} steps)`);
  const commit = cleanCommit(REPO_ROOT);
  return {
    ref,
    digest: id,
    context: `lab/images/${dir}`,
    ...(target ? { target } : {}),
    args,
    source: buildInputsId(context, target, args),
    ...(commit ? { commit } : {}),
    startedOn,
    finishedOn: new Date().toISOString(),
  };
}

export interface LabImages {
  cattle: string;
  snowflake: string;
  infra: string;
}

/** Builds (or reuses from the engine's layer cache) every lab image; returns their ids and builds. */
export async function ensureImages(docker: Docker, log: Log): Promise<{ images: LabImages; builds: Record<keyof LabImages, LabBuild> }> {
  await ensureBase(docker, log);
  const builds = {
    cattle: await build(docker, 'app', IMAGES.cattle, log, 'cattle'),
    snowflake: await build(docker, 'app', IMAGES.snowflake, log, 'snowflake'),
    infra: await build(docker, 'infra', IMAGES.infra, log),
  };
  return { images: { cattle: builds.cattle.digest, snowflake: builds.snowflake.digest, infra: builds.infra.digest }, builds };
}

/** The web images of release `n` (what a build pipeline makes for `driftless lab deploy`). */
export async function buildRelease(docker: Docker, n: number, log: Log): Promise<{ cattle: LabBuild; snowflake: LabBuild }> {
  const args = { RELEASE: String(n) };
  const cattle = await build(docker, 'app', `${IMAGES.cattle}-r${n}`, log, 'cattle', args);
  const snowflake = await build(docker, 'app', `${IMAGES.snowflake}-r${n}`, log, 'snowflake', args);
  return { cattle, snowflake };
}
