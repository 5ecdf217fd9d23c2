/** Small network checks against 127.0.0.1 services: is a port free, does HTTP/SSH answer. */
import net from 'node:net';

export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export interface HttpCheck {
  ok: boolean;
  status?: number;
  body?: string;
  error?: string;
}

export async function httpGet(url: string, timeoutMs = 2000): Promise<HttpCheck> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await res.text();
    return { ok: res.ok, status: res.status, body };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return { ok: false, error: e.cause?.code ?? e.message };
  }
}

/** Reads the SSH identification banner ("SSH-2.0-..."), proving sshd is accepting connections. */
export function sshBanner(port: number, host = '127.0.0.1', timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    let buf = '';
    const done = (v: string | undefined) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(undefined));
    sock.on('data', (b) => {
      buf += b.toString('latin1');
      const line = buf.split('\r\n')[0];
      if (buf.includes('\n') && line) done(line.startsWith('SSH-') ? line : undefined);
    });
    sock.on('error', () => done(undefined));
    sock.on('end', () => done(undefined));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
