/**
 * Runs a user's command (a deploy) as an argument list, without a shell, with exactly the
 * environment it is given (nothing inherited): output captured (the last 256 KiB of each stream,
 * redacted before it is cut), a deadline after which it gets SIGTERM and, 10 s later, SIGKILL, and
 * its whole process group ended so nothing it started outlives it.
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { redact } from '../core/redact.ts';

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

/**
 * A stream's output, kept to its last `keep` characters. The whole text is redacted before every
 * cut, so a cut never falls inside a secret still in the clear: a secret split by it would leave a
 * half that no later redaction recognises. A secret still arriving (its start at the very end) is
 * kept whole until its rest comes: `keep` is larger than any secret.
 */
export function redactedTail(redact: (text: string) => string, keep = KEEP) {
  let text = '';
  let cut = 0;
  const trim = () => {
    text = redact(text);
    if (text.length > keep) {
      cut += text.length - keep;
      text = text.slice(-keep);
    }
  };
  return {
    append(t: string) {
      text += t;
      if (text.length > 2 * keep) trim(); // amortised: one redaction per `keep` characters
    },
    /** The redacted tail, saying how much was cut before it. */
    done(): string {
      trim();
      return cut ? `… (${cut} characters cut)\n${text}` : text;
    },
  };
}

export interface CommandOptions {
  cwd: string;
  timeoutMs: number;
  /** The child's whole environment: nothing of this process's is inherited. */
  env: NodeJS.ProcessEnv;
  /** Redacted from each stream's output (with private key blocks) before it is cut or kept. Lines given to onLine are raw. */
  secrets?: readonly string[];
  onLine?: (line: string) => void;
}

export function runCommand(argv: string[], opts: CommandOptions): Promise<CommandRun> {
  const startedAt = new Date();
  return new Promise((resolve) => {
    const secrets = opts.secrets ?? [];
    const clean = (t: string) => redact(t, secrets);
    const keep = Math.max(KEEP, 2 * Math.max(0, ...secrets.map((x) => x.length)));
    const out = redactedTail(clean, keep);
    const err = redactedTail(clean, keep);
    let timedOut = false;
    let spawnError: string | undefined;
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
    const outReader = reader((t) => out.append(t));
    const errReader = reader((t) => err.append(t));
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
        stdout: out.done(),
        stderr: err.done(),
      });
    });
  });
}
