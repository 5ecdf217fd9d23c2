/**
 * The one place that opens a connection to a Docker engine. Everything else asks for an
 * EngineClient here, so "no engine" is reported the same way everywhere.
 */
import Docker from 'dockerode';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { EngineUnavailableError, ProviderError } from '../core/errors.ts';
import { bufferReachesBack, type Coverage } from './engine-events.ts';
import { TMP_LABEL, tmpLabels } from './tmp-label.ts';

export interface EngineTarget {
  socketPath?: string;
  host?: string;
  port?: number;
}

export function describeEngine(t: EngineTarget = {}): string {
  if (t.host) return `tcp://${t.host}:${t.port ?? 2375}`;
  if (t.socketPath) return `unix://${t.socketPath}`;
  return process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
}

export function engineClient(t: EngineTarget = {}): Docker {
  if (t.host) return new Docker({ host: t.host, port: t.port ?? 2375 });
  if (t.socketPath) return new Docker({ socketPath: t.socketPath });
  return new Docker(); // honours DOCKER_HOST, else the default socket
}

/** Connects and pings; throws EngineUnavailableError with the fix if nothing answers. */
export async function connectEngine(t: EngineTarget = {}, timeoutMs = 5000): Promise<Docker> {
  const docker = engineClient(t);
  try {
    await Promise.race([docker.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref())]);
  } catch (err) {
    throw new EngineUnavailableError(describeEngine(t), err);
  }
  return docker;
}

/** Reads a stream of JSON progress lines (build, import) and fails on the engine's error. */
export async function followProgress(docker: Docker, stream: NodeJS.ReadableStream, onLine?: (text: string) => void): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, out: unknown[]) => {
        if (err) return reject(err);
        const failed = out.find((o) => typeof o === 'object' && o !== null && 'error' in o) as { error?: string } | undefined;
        if (failed?.error) return reject(new ProviderError(failed.error));
        resolve(out);
      },
      (ev: { stream?: string; status?: string }) => {
        const text = (ev.stream ?? ev.status ?? '').trimEnd();
        if (text && onLine) onLine(text);
      },
    );
  });
}

/** Demultiplexed output of a command run in a container with `exec`. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function execIn(docker: Docker, containerId: string, cmd: string[], user?: string): Promise<ExecResult> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: user ?? '' });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const { PassThrough } = await import('node:stream');
  const o = new PassThrough();
  const e = new PassThrough();
  o.on('data', (b: Buffer) => out.push(b));
  e.on('data', (b: Buffer) => err.push(b));
  docker.modem.demuxStream(stream, o, e);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
    stream.on('error', reject);
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** The engine client probes hand out; callers outside probes/ use it only through these functions. */
export type Engine = Docker;
export type ContainerDetails = Docker.ContainerInspectInfo;

/** Containers (running or not) carrying every one of `labels`. */
export async function containersWithLabels(docker: Docker, labels: Record<string, string>): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
}

/** Undefined when the container is gone (removed between a list and an inspect). */
export async function inspectContainer(docker: Docker, id: string): Promise<ContainerDetails | undefined> {
  return docker
    .getContainer(id)
    .inspect()
    .catch((err: { statusCode?: number }) => {
      if (err?.statusCode === 404) return undefined;
      throw err;
    });
}

/**
 * How the engine stores the container's filesystem: its storage driver and, for overlay, the
 * upper directory (GraphDriver.Data.UpperDir), which the container's own root mount names.
 */
export function storageOf(info: ContainerDetails): { driver: string; upperDir?: string } {
  const g = info.GraphDriver as { Name?: string; Data?: Record<string, string | undefined> | null } | undefined;
  const upperDir = g?.Data?.UpperDir;
  return { driver: g?.Name || 'unknown', ...(upperDir ? { upperDir } : {}) };
}

export async function repoDigestsOf(docker: Docker, imageId: string): Promise<string[]> {
  const info = await docker
    .getImage(imageId)
    .inspect()
    .catch(() => undefined);
  return info?.RepoDigests ?? [];
}

/** sigkill = the process crashes; stop = graceful (SIGTERM, then SIGKILL after `graceSeconds`). */
export async function killContainer(docker: Docker, id: string, how: 'sigkill' | 'stop', graceSeconds = 10): Promise<void> {
  const c = docker.getContainer(id);
  if (how === 'stop') await c.stop({ t: graceSeconds });
  else await c.kill({ signal: 'SIGKILL' });
}

/** The engine's filesystem diff of a container (`docker diff`): Kind 0 changed, 1 added, 2 deleted. */
export async function containerChanges(docker: Docker, id: string): Promise<Array<{ Path: string; Kind: number }>> {
  return parseChanges(await docker.getContainer(id).changes());
}

/**
 * The engine answers `null` for a container with no change at all (the most immutable host there
 * is), and dockerode then hands over the raw body as a Buffer: read it as JSON, and refuse anything
 * that is not a list of { Path, Kind } rather than judge on it.
 */
export function parseChanges(body: unknown): Array<{ Path: string; Kind: number }> {
  let v = body;
  if (Buffer.isBuffer(v) || typeof v === 'string') {
    const text = v.toString().trim();
    try {
      v = text === '' ? null : JSON.parse(text);
    } catch {
      throw new Error(`the engine's filesystem diff is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
  }
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v) || !v.every((c) => typeof c === 'object' && c !== null && typeof c.Path === 'string' && typeof c.Kind === 'number'))
    throw new Error(`the engine's filesystem diff is not a list of { Path, Kind }: ${JSON.stringify(v).slice(0, 80)}`);
  return v as Array<{ Path: string; Kind: number }>;
}

export interface EngineEvent {
  time: string;
  action: string;
  execId?: string;
  /** The command of an exec, when the engine puts it in the action text ("exec_create: sh -c ..."). */
  command?: string;
}

/** The engine's events for one container between two times (seconds); the stream ends at `until`. */
export async function containerEvents(docker: Docker, id: string, since: number, until: number, actions: string[]): Promise<EngineEvent[]> {
  return (await rawEvents(docker, since, until, { container: [id], type: ['container'], event: actions }, id)).map(toEvent);
}

/** The engine keeps only its last 256 events in memory (moby's eventsLimit). */
export const ENGINE_EVENT_BUFFER = 256;

/**
 * Whether the engine still holds every event since `since` (seconds): its whole buffer is read
 * (since the epoch, up to now, every kind of event) and its oldest event must be at or before
 * `since` (probes/engine-events.ts). Call it after reading the window's events.
 */
export async function engineReachesBack(docker: Docker, since: number): Promise<Coverage> {
  return bufferReachesBack(await rawEvents(docker, 1, Math.floor(Date.now() / 1000), {}, 'the engine'), since);
}

async function rawEvents(
  docker: Docker,
  since: number,
  until: number,
  filters: Record<string, string[]>,
  what: string,
): Promise<Array<Record<string, unknown>>> {
  const stream = (await docker.getEvents({
    since,
    until,
    filters,
  } as Parameters<Docker['getEvents']>[0])) as NodeJS.ReadableStream;
  const raw = await new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
    let buf = '';
    const out: Array<Record<string, unknown>> = [];
    const timer = setTimeout(() => {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      reject(new ProviderError(`the engine's event stream for ${what.slice(0, 12)} did not end within 30 s`));
    }, 30_000);
    const flush = (final: boolean) => {
      const lines = buf.split('\n');
      buf = final ? '' : lines.pop()!;
      for (const l of lines) if (l.trim()) out.push(JSON.parse(l) as Record<string, unknown>);
    };
    stream.on('data', (b: Buffer) => {
      buf += b.toString();
      flush(false);
    });
    stream.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    stream.on('end', () => {
      clearTimeout(timer);
      try {
        flush(true);
        resolve(out);
      } catch (e) {
        reject(e);
      }
    });
  });
  return raw;
}

export function toEvent(e: Record<string, unknown>): EngineEvent {
  const action = String(e.Action ?? e.status ?? '');
  const attrs = ((e.Actor as { Attributes?: Record<string, string> } | undefined)?.Attributes ?? {}) as Record<string, string>;
  const nano = Number(e.timeNano ?? 0);
  const time = nano ? new Date(Math.floor(nano / 1e6)).toISOString() : new Date(Number(e.time ?? 0) * 1000).toISOString();
  const i = action.indexOf(': ');
  return {
    time,
    action: action.length > 2000 ? `${action.slice(0, 2000)}…` : action,
    ...(attrs.execID ? { execId: attrs.execID } : {}),
    ...(i > 0 ? { command: action.slice(i + 2, i + 2 + 2000) } : {}),
  };
}

export { TMP_LABEL, tmpLabels };

/** The first regular file in a tar stream (what the engine's archive endpoint returns for one path). */
export async function firstFileOfTar(tar: NodeJS.ReadableStream | Buffer): Promise<Buffer | undefined> {
  const extract = tarStream.extract();
  const source = Buffer.isBuffer(tar) ? Readable.from([tar]) : tar;
  source.pipe(extract);
  try {
    for await (const entry of extract) {
      if (entry.header.type !== 'file') {
        entry.resume(); // PAX headers, directories, links: skip
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const b of entry) chunks.push(b as Buffer);
      extract.destroy();
      return Buffer.concat(chunks);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return undefined;
    throw err;
  }
  return undefined;
}

/**
 * Reads files of an image from a CREATED (never started) container: nothing runs, and no audited
 * host is touched. The container carries the temporary-container label and is removed by `close`.
 */
export function imageFileReader(
  engine: () => Promise<Docker>,
  image: string,
): { read: (file: string) => Promise<Buffer | undefined>; close: () => Promise<void> } {
  let created: Promise<Docker.Container> | undefined;
  return {
    read: async (file) => {
      const docker = await engine();
      created ??= (async () =>
        docker.createContainer({
          Image: image,
          Entrypoint: ['true'],
          Cmd: [],
          Labels: tmpLabels((await docker.getImage(image).inspect()).Config?.Labels),
          HostConfig: { NetworkMode: 'none' },
        }))();
      const stream = (await (await created).getArchive({ path: file })) as NodeJS.ReadableStream;
      return firstFileOfTar(stream);
    },
    close: async () => {
      if (!created) return;
      const c = await created.catch(() => undefined);
      await c?.remove({ force: true }).catch(() => {});
    },
  };
}

/** Writes one file into a running container (`docker cp`): the engine records it as extract-to-dir. */
export async function putFile(docker: Docker, container: string, dir: string, name: string, content: string): Promise<void> {
  const pack = tarStream.pack();
  pack.entry({ name, mode: 0o644 }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  await docker.getContainer(container).putArchive(Buffer.concat(chunks), { path: dir });
}
