/**
 * Runs a user's command (a deploy) as an argument list, without a shell: output captured (the
 * last 256 KiB of each stream), a deadline after which it gets SIGTERM and, 10 s later, SIGKILL,
 * and its whole process group ended so nothing it started outlives it.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';

export interface CommandRun {
  argv: string[];
  cwd: string;
  startedAt: Date;
  endedAt: Date;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Could not be started at all (no such file, not executable). */
  spawnError?: string;
  stdout: string;
  stderr: string;
}

const KEEP = 256 * 1024;
const tail = (s: string) => (s.length > KEEP ? `… (${s.length - KEEP} bytes cut)\n${s.slice(-KEEP)}` : s);

export function runCommand(argv: string[], opts: { cwd: string; timeoutMs: number; onLine?: (line: string) => void }): Promise<CommandRun> {
  const startedAt = new Date();
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let spawnError: string | undefined;
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const group = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* already gone */
      }
    };
    // One decoder and one partial line per stream: a UTF-8 character or a line may straddle two
    // chunks, and stdout and stderr chunks interleave.
    const reader = (append: (text: string) => void) => {
      const decoder = new StringDecoder('utf8');
      let partial = '';
      const lines = (text: string, end: boolean) => {
        if (!opts.onLine) return;
        const parts = (partial + text).split('\n');
        partial = parts.pop()!;
        for (const l of parts) opts.onLine(l);
        if (end && partial) opts.onLine(partial);
      };
      return {
        data: (b: Buffer) => {
          const text = decoder.write(b);
          append(text);
          lines(text, false);
        },
        end: () => {
          const text = decoder.end();
          append(text);
          lines(text, true);
        },
      };
    };
    const outReader = reader((t) => (stdout = tail(stdout + t)));
    const errReader = reader((t) => (stderr = tail(stderr + t)));
    child.stdout.on('data', outReader.data);
    child.stderr.on('data', errReader.data);
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      group('SIGTERM');
      killer = setTimeout(() => group('SIGKILL'), 10_000);
    }, opts.timeoutMs);
    child.on('error', (err) => (spawnError = err.message));
    child.on('close', (code, signal) => {
      outReader.end();
      errReader.end();
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      group('SIGKILL'); // anything it left running in its group
      resolve({
        argv,
        cwd: opts.cwd,
        startedAt,
        endedAt: new Date(),
        exitCode: code,
        signal,
        timedOut,
        ...(spawnError ? { spawnError } : {}),
        stdout,
        stderr,
      });
    });
  });
}
