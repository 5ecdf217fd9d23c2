/**
 * Only the image runs (DL-IMG-017): every process's command (argv[0], and the script an
 * interpreter runs) and, where the login user may read it, its executable must be a file of the
 * image's golden manifest, outside every writable path; a readable executable must hash as the
 * image's file and must not have been deleted since the process started. Pure: the process list
 * (probes/processes.ts) and the golden manifest in, one finding per process out.
 *
 * A command line is what the process says about itself, and a hostile process can say anything:
 * this catches drift and careless out-of-band installs, not an attacker who hides.
 */
import path from 'node:path';
import type { Manifest, ManifestEntry } from '../../probes/manifest.ts';
import type { ProcessEntry, ProcessList } from '../../probes/processes.ts';
import { under } from './compare.ts';

/** Scratch paths writable on any Linux host, whatever policy.ssh.writablePaths says. */
export const SCRATCH_PATHS = ['/tmp', '/run', '/dev/shm', '/var/tmp'] as const;

/** Where a bare command name is looked up (the process's own PATH is not readable): the usual PATH. */
export const STANDARD_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;

/** The golden manifest, indexed for look-ups. */
export interface GoldenView {
  index: Map<string, ManifestEntry>;
  paths: readonly string[];
  excludes: readonly string[];
}

const views = new WeakMap<Manifest, GoldenView>();

export function goldenView(m: Manifest): GoldenView {
  let v = views.get(m);
  if (!v) views.set(m, (v = { index: new Map(m.entries.map((e) => [e.path, e])), paths: m.paths, excludes: m.excludes }));
  return v;
}

/** Whether the manifest speaks for `p` at all: under a scanned path and not excluded. */
export function covers(g: GoldenView, p: string): boolean {
  return g.paths.some((s) => under(p, s)) && !g.excludes.some((x) => under(p, x));
}

export interface Resolved {
  /** The path with every symlink of the image along it followed. */
  path: string;
  entry?: ManifestEntry;
  covered: boolean;
  /** More than 40 symlinks followed (a loop). */
  loop?: boolean;
}

/** Follows the image's symlinks along `p` (/bin -> usr/bin, python3 -> python3.11), as the kernel would on the host. */
export function resolveInImage(p: string, g: GoldenView): Resolved {
  let parts = path.posix.normalize(p).split('/').filter(Boolean);
  let hops = 0;
  for (let i = 0; i < parts.length; i++) {
    const here = `/${parts.slice(0, i + 1).join('/')}`;
    const e = g.index.get(here);
    if (e?.type !== 'symlink' || e.target === undefined) continue;
    if (++hops > 40) return { path: here, covered: covers(g, here), loop: true };
    const base = e.target.startsWith('/') ? e.target : path.posix.join(path.posix.dirname(here), e.target);
    parts = path.posix
      .normalize(path.posix.join(base, ...parts.slice(i + 1)))
      .split('/')
      .filter(Boolean);
    i = -1;
  }
  const final = `/${parts.join('/')}`;
  const entry = g.index.get(final);
  return { path: final, ...(entry ? { entry } : {}), covered: covers(g, final) };
}

type Interpreter = 'shell' | 'python' | 'perl' | 'node' | 'ruby';

/** The interpreter a program file name names, if it is one whose first argument may be a script. */
export function interpreterOf(name: string): Interpreter | undefined {
  if (/^(sh|bash|dash|ash|ksh|mksh|zsh)$/.test(name)) return 'shell';
  if (/^python[0-9.]*$/.test(name)) return 'python';
  if (/^perl[0-9.]*$/.test(name)) return 'perl';
  if (/^(node|nodejs)$/.test(name)) return 'node';
  if (/^ruby[0-9.]*$/.test(name)) return 'ruby';
  return undefined;
}

/** Per interpreter: options that run code given inline (no script file), and options that take the next argument as their value. */
const OPTIONS: Record<Interpreter, { inline: string[]; withValue: string[]; clusterInline?: RegExp }> = {
  shell: { inline: ['-c', '-s'], withValue: ['-o', '+o', '-O', '+O', '--rcfile', '--init-file'], clusterInline: /^-[a-zA-Z]*[cs][a-zA-Z]*$/ },
  python: { inline: ['-c', '-m', '-'], withValue: ['-W', '-X', '-Q'], clusterInline: /^-[a-zA-Z]*[cm][a-zA-Z]*$/ },
  perl: { inline: ['-e', '-E'], withValue: ['-I', '-M', '-m', '-x'], clusterInline: /^-[a-zA-Z]*[eE]$/ },
  node: { inline: ['-e', '--eval', '-p', '--print', '-'], withValue: ['-r', '--require', '--import', '--loader', '-C', '--conditions', '--input-type'] },
  ruby: { inline: ['-e'], withValue: ['-I', '-r', '-C'] },
};

/**
 * The script an interpreter runs: its first argument that is not an option (or an option's
 * value); undefined when it runs code given inline (`sh -c`, `python3 -m`, `perl -e`) or read
 * from its standard input.
 */
export function scriptArgument(kind: Interpreter, args: readonly string[]): string | undefined {
  const o = OPTIONS[kind];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return args[i + 1];
    if (o.inline.includes(a) || o.clusterInline?.test(a)) return undefined;
    if (o.withValue.includes(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-') || a.startsWith('+')) continue;
    return a;
  }
  return undefined;
}

/**
 * The command a process was started as: argv[0]; for a process that rewrote its whole command
 * line into a title ("sshd: audit [priv]", "nginx: master process ..."), the title's first word;
 * a login shell's leading "-" dropped.
 */
export function commandOf(argv: readonly string[]): { command: string; title: boolean } | undefined {
  const first = argv[0];
  if (first === undefined || first === '') return undefined;
  const title = argv.length === 1 && /\s/.test(first);
  let command = title ? first.trim().split(/\s+/)[0]!.replace(/:$/, '') : first;
  if (command.startsWith('-')) command = command.slice(1);
  return command ? { command, title } : undefined;
}

export interface ProcessFinding {
  pid: number;
  uid?: number;
  name?: string;
  /** How it was judged: its command line only, or also its executable (readable by the login user). */
  judged: 'command line' | 'command line and executable' | 'executable' | 'skipped';
  command?: string;
  /** The image file the command resolved to. */
  file?: string;
  script?: string;
  exe?: string;
  /** What makes it code that is not the image's. */
  problems: string[];
  /** What could not be told about it. */
  unverified: string[];
  /** Not judged, and why (a kernel thread, a zombie). */
  skipped?: string;
  /** The command line, for the processes with problems only (it may carry anything). */
  argv?: string[];
}

export interface RuntimeJudgement {
  findings: ProcessFinding[];
  /** Processes whose command line was judged, and whose executable was. */
  commandLines: number;
  executables: number;
  skipped: number;
  failed: ProcessFinding[];
  unverified: ProcessFinding[];
  /** PID 1 is in the list: /proc does not hide other users' processes from the login user. */
  pid1Visible: boolean;
  writable: string[];
}

/** The writable paths of a host: the policy's absolute ones and the scratch paths every Linux host has. */
export function writablePathsOf(policy: readonly string[]): string[] {
  return [...new Set([...policy.filter((p) => p.startsWith('/')), ...SCRATCH_PATHS])];
}

/** Judges every process of the list against the golden manifest. */
export function judgeRuntime(list: ProcessList, golden: GoldenView, policyWritable: readonly string[]): RuntimeJudgement {
  const writable = writablePathsOf(policyWritable);
  const findings = list.processes.map((p) => judgeProcess(p, golden, writable));
  return {
    findings,
    commandLines: findings.filter((f) => f.judged.startsWith('command line')).length,
    executables: findings.filter((f) => f.judged.endsWith('executable')).length,
    skipped: findings.filter((f) => f.judged === 'skipped').length,
    failed: findings.filter((f) => f.problems.length),
    unverified: findings.filter((f) => !f.problems.length && f.unverified.length),
    pid1Visible: list.processes.some((p) => p.pid === 1),
    writable,
  };
}

const clip = (argv: readonly string[]) => argv.slice(0, 20).map((a) => (a.length > 200 ? `${a.slice(0, 200)}…` : a));

function judgeProcess(p: ProcessEntry, g: GoldenView, writable: readonly string[]): ProcessFinding {
  const f: ProcessFinding = {
    pid: p.pid,
    ...(p.uid !== undefined ? { uid: p.uid } : {}),
    ...(p.name ? { name: p.name } : {}),
    judged: 'skipped',
    problems: [],
    unverified: [],
  };
  if (p.state === 'Z') return { ...f, skipped: 'a zombie (it has exited; nothing of it runs)' };
  if (!p.argv.length && (p.pid === 2 || p.ppid === 2)) return { ...f, skipped: 'a kernel thread' };
  const writableOf = (x: string) => writable.find((w) => under(x, w));

  /** A path the process runs: not writable, and a file of the image. */
  const checkFile = (label: string, file: string): Resolved | undefined => {
    let abs = file;
    if (!file.startsWith('/')) {
      if (!p.cwd) {
        f.unverified.push(`its ${label} ${file} is relative to a working directory the login user cannot read`);
        return undefined;
      }
      abs = path.posix.resolve(p.cwd, file);
    }
    const r = resolveInImage(abs, g);
    const w = writableOf(abs) ?? writableOf(r.path);
    if (w) f.problems.push(`its ${label} ${abs} is in a writable path (${w})`);
    else if (r.loop) f.unverified.push(`its ${label} ${abs} leads through a loop of symlinks in the image`);
    else if (!r.covered) f.unverified.push(`its ${label} ${abs} is outside what the golden manifest covers (${g.paths.join(', ')})`);
    else if (!r.entry) f.problems.push(`its ${label} ${abs} is not a file of the image (not in its golden manifest)`);
    else if (r.entry.type !== 'file') f.problems.push(`its ${label} ${abs} is a ${r.entry.type} in the image, not a file`);
    else return r;
    return undefined;
  };

  /** A bare command name: a file of that name in one of the usual PATH directories of the image. */
  const checkName = (name: string): Resolved | undefined => {
    for (const dir of STANDARD_PATH) {
      const r = resolveInImage(`${dir}/${name}`, g);
      if (r.entry?.type === 'file' && !writableOf(r.path)) return r;
    }
    const uncovered = STANDARD_PATH.filter((d) => !covers(g, d));
    if (uncovered.length)
      f.unverified.push(`its command "${name}" is in none of the PATH directories the golden manifest covers, and it does not cover ${uncovered.join(', ')}`);
    else f.problems.push(`its command "${name}" is no file of the image (looked for in ${STANDARD_PATH.join(', ')})`);
    return undefined;
  };

  const names: string[] = []; // the program's file names, for telling an interpreter
  const cmd = commandOf(p.argv);
  if (cmd) {
    f.command = cmd.command;
    const r = cmd.command.includes('/') ? checkFile('command', cmd.command) : checkName(cmd.command);
    if (r) f.file = r.path;
    names.push(path.posix.basename(cmd.command), ...(r ? [path.posix.basename(r.path)] : []));
  }
  if (p.exe !== undefined) {
    const deleted = p.exe.endsWith(' (deleted)');
    const exe = deleted ? p.exe.slice(0, -' (deleted)'.length) : p.exe;
    f.exe = p.exe;
    names.push(path.posix.basename(exe));
    if (deleted) f.problems.push(`its executable ${exe} was deleted or replaced since the process started`);
    else {
      const r = checkFile('executable', exe);
      const want = r?.entry?.sha256?.replace(/^sha256:/, '');
      if (r && !want) f.unverified.push(`the golden manifest has no hash of its executable ${exe}`);
      else if (r && !p.exeSha256) f.unverified.push(`its executable ${exe} could not be hashed`);
      else if (r && want !== p.exeSha256) f.problems.push(`its executable ${exe} differs from the image's (sha256 ${p.exeSha256}, the image has ${want})`);
    }
  }
  if (!cmd && p.exe === undefined) f.unverified.push('its command line is empty and its executable cannot be read');
  f.judged = cmd && p.exe !== undefined ? 'command line and executable' : p.exe !== undefined ? 'executable' : 'command line';
  // The script an interpreter runs is the code that runs: it must be the image's too. A title
  // ("sshd: ...") has no arguments left to tell.
  const kind = names.map(interpreterOf).find((k) => k !== undefined);
  if (kind && cmd && !cmd.title) {
    const script = scriptArgument(kind, p.argv.slice(1));
    if (script !== undefined) {
      f.script = script;
      checkFile('script', script);
    }
  }
  if (f.problems.length) f.argv = clip(p.argv);
  return f;
}

/** One line per process with problems (or that could not be told), for a message. */
export function describeFinding(f: ProcessFinding, what: 'problems' | 'unverified' = 'problems'): string {
  const who = `pid ${f.pid}${f.uid !== undefined ? ` (uid ${f.uid})` : ''} ${f.command ?? f.name ?? '?'}`;
  return `${who}: ${f[what].join('; ')}`;
}
