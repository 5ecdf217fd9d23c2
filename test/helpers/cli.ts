/** Runs the real `driftless` CLI as a user would, capturing output and exit code. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../core/paths.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const BIN = path.join(REPO_ROOT, 'bin', 'driftless.js');

export function driftless(
  args: string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number; onStdout?: (chunk: string, child: ReturnType<typeof spawn>) => void } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      opts.onStdout?.(b.toString(), child);
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
