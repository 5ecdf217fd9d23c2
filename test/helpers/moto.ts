/**
 * Starts a real moto server (an EC2/Auto Scaling-compatible API) on 127.0.0.1 for the EC2 tests.
 *
 *   const moto = await startMoto();   // in before()
 *   ... new EC2Client({ endpoint: moto.endpoint, ... })
 *   await moto.stop();                // in after()
 *
 * Each server is a fresh, empty account. Needs `moto_server` on PATH: pip install 'moto[server]'.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Everything the server printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // the whole process group: moto_server and anything it forked
  } catch {
    /* already gone */
  }
}

export async function startMoto(opts: { startTimeoutMs?: number } = {}): Promise<MotoServer> {
  if (!onPath('moto_server')) {
    throw new Error("moto_server is not on PATH: the EC2 integration tests need it. Install it with: pip install 'moto[server]'");
  }
  const port = await freePort();
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    detached: true, // its own process group, so stop() can kill all of it
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let out = '';
  child.stdout?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  child.stderr?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  let exited: number | null | undefined;
  const exitedP = new Promise<void>((r) => child.once('exit', (code) => ((exited = code), r())));

  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited !== undefined) return;
    killGroup(child, 'SIGTERM');
    const t = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
    await exitedP;
    clearTimeout(t);
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 20_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`moto_server exited (code ${exited}) before answering on ${endpoint}:\n${out}`);
    try {
      // moto's own health/reset API; any HTTP answer means it is serving.
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      break;
    } catch {
      if (Date.now() >= deadline) {
        await stop();
        throw new Error(`moto_server did not answer on ${endpoint} within ${opts.startTimeoutMs ?? 20_000} ms:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  return { endpoint, port, output: () => out, stop };
}
