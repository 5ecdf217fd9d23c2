/**
 * Peak memory of a process tree (the harness: the CLI, Playwright's runner and its workers, or
 * pytest and its xdist workers). Sampled from /proc every 50 ms: the peak of the SUM of resident
 * set sizes of the root and every descendant alive at that moment; also the largest single process.
 */
import fs from 'node:fs';

function readStat(pid: number): { ppid: number; rssKb: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: fields start after the LAST ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    const rssPages = Number(rest[21]);
    return { ppid, rssKb: (rssPages * 4096) / 1024 };
  } catch {
    return undefined; // exited between readdir and read
  }
}

function treeRss(root: number): { sumKb: number; maxKb: number; processes: number } {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const s = readStat(pid);
    if (!s) continue;
    rss.set(pid, s.rssKb);
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  let sumKb = 0;
  let maxKb = 0;
  let processes = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    const r = rss.get(pid);
    if (r !== undefined) {
      sumKb += r;
      maxKb = Math.max(maxKb, r);
      processes++;
    }
    stack.push(...(children.get(pid) ?? []));
  }
  return { sumKb, maxKb, processes };
}

export interface TreePeak {
  /** Peak of the summed RSS of the whole tree, MiB. */
  peakTreeMiB: number;
  /** Largest single process seen, MiB. */
  peakProcessMiB: number;
  /** Most processes alive in the tree at once. */
  peakProcesses: number;
}

export function sampleTree(rootPid: number, everyMs = 50): { stop(): TreePeak } {
  let peakSum = 0;
  let peakMax = 0;
  let peakN = 0;
  const tick = () => {
    const t = treeRss(rootPid);
    peakSum = Math.max(peakSum, t.sumKb);
    peakMax = Math.max(peakMax, t.maxKb);
    peakN = Math.max(peakN, t.processes);
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const mib = (kb: number) => Math.round((kb / 1024) * 10) / 10;
      return { peakTreeMiB: mib(peakSum), peakProcessMiB: mib(peakMax), peakProcesses: peakN };
    },
  };
}

export interface MeasuredRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
  /** User + system CPU seconds of the process and every descendant it waited for. */
  cpuSeconds: number;
  memory: TreePeak;
}

const TIMES_MARK = '--driftless-bench-times--';

/**
 * Runs a command under `sh`, whose `times` builtin reports the CPU time of everything the
 * command ran (no extra package needed), while sampling its tree's memory.
 */
export async function runMeasured(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<MeasuredRun> {
  const { spawn } = await import('node:child_process');
  const t0 = performance.now();
  const child = spawn('sh', ['-c', `"$@"; rc=$?; printf '\\n${TIMES_MARK}\\n' >&2; times >&2; exit $rc`, 'sh', cmd, ...args], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sampler = sampleTree(child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const wallSeconds = Math.round(performance.now() - t0) / 1000;
  const memory = sampler.stop();
  const at = stderr.lastIndexOf(TIMES_MARK);
  let cpuSeconds = Number.NaN;
  if (at >= 0) {
    // second line of `times`: the children's user and system time, e.g. "0m5.652000s 0m0.400000s"
    const lines = stderr
      .slice(at + TIMES_MARK.length)
      .trim()
      .split('\n');
    const secs = (t: string) => {
      const m = /^(\d+)m([\d.]+)s$/.exec(t.trim());
      return m ? Number(m[1]) * 60 + Number(m[2]) : Number.NaN;
    };
    const [u, s] = (lines[1] ?? '').trim().split(/\s+/);
    cpuSeconds = Math.round((secs(u ?? '') + secs(s ?? '')) * 100) / 100;
    stderr = stderr.slice(0, at).replace(/\n$/, '');
  }
  return { exitCode, stdout, stderr, wallSeconds, cpuSeconds, memory };
}
