/**
 * The one place that opens a connection to a Docker engine. Everything else asks for an
 * EngineClient here, so "no engine" is reported the same way everywhere.
 */
import Docker from 'dockerode';
import { EngineUnavailableError } from './errors.ts';

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
    await Promise.race([
      docker.ping(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
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
        if (failed?.error) return reject(new Error(failed.error));
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
