/**
 * The peer: pytest-testinfra (+ pytest-xdist) doing the same per-host file-hash check as
 * driftless's golden-manifest check, over the same SSH logins, pinned host keys and golden file,
 * at the same concurrency (xdist workers = driftless's policy.ssh.concurrency).
 * Installed with pip into bench/tmp/venv-peer from bench/peer/requirements.txt (pinned).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../core/paths.ts';
import { LabError } from '../core/errors.ts';
import type { BenchFleet } from './fleet.ts';
import { runMeasured, type TreePeak } from './proc-tree.ts';
import type { GoldenManifest } from './scale.ts';
import { log } from './stats.ts';

const PEER_DIR = path.join(REPO_ROOT, 'bench', 'peer');
const VENV = path.join(REPO_ROOT, 'bench', 'tmp', 'venv-peer');
const REQUIREMENTS = path.join(PEER_DIR, 'requirements.txt');

export interface PeerVersions {
  pytest: string;
  testinfra: string;
  xdist: string;
  python: string;
  openssh: string;
}

/** Creates the venv and installs the pinned peer (again only when requirements.txt changed). */
export function ensurePeer(): PeerVersions {
  const stamp = path.join(VENV, '.requirements');
  const wanted = fs.readFileSync(REQUIREMENTS, 'utf8');
  if (!fs.existsSync(stamp) || fs.readFileSync(stamp, 'utf8') !== wanted) {
    log(`installing the peer (pytest-testinfra, pytest-xdist) into ${path.relative(REPO_ROOT, VENV)}`);
    try {
      if (!fs.existsSync(path.join(VENV, 'bin', 'python'))) execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'pipe' });
      execFileSync(path.join(VENV, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', '-r', REQUIREMENTS], { stdio: 'pipe' });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new LabError(
        `could not install the peer with pip (python3 -m venv + pip install -r bench/peer/requirements.txt): ${String(e.stderr ?? e.message)
          .trim()
          .slice(-400)}`,
      );
    }
    fs.writeFileSync(stamp, wanted);
  }
  const py = path.join(VENV, 'bin', 'python');
  const version = (mod: string) =>
    execFileSync(py, ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(mod)}))`], { encoding: 'utf8' }).trim();
  return {
    pytest: version('pytest'),
    testinfra: version('pytest-testinfra'),
    xdist: version('pytest-xdist'),
    python: execFileSync(py, ['--version'], { encoding: 'utf8' }).trim(),
    openssh: execFileSync('ssh', ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim() || 'ssh (version on stderr)',
  };
}

export interface PeerRun {
  tool: 'testinfra';
  hosts: number;
  concurrency: number;
  wallSeconds: number;
  /** CPU seconds (user + system) of pytest, its xdist workers and their ssh clients. */
  cpuSeconds: number;
  memory: TreePeak;
  exitCode: number | null;
  counts: { passed: number; failed: number; errors: number };
  valid: boolean;
  problem?: string;
  command: string;
}

/** OpenSSH client settings for testinfra's ssh backend: same key, same pinned host keys. */
function writeSshConfig(fleet: BenchFleet, dir: string): string {
  const file = path.join(dir, 'ssh_config');
  fs.writeFileSync(
    file,
    [
      'Host 127.0.0.1',
      '  User audit',
      `  IdentityFile ${fleet.keys.identityFile}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${fleet.keys.knownHostsFile}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '',
    ].join('\n'),
  );
  return file;
}

export async function runPeer(opts: { fleet: BenchFleet; golden: GoldenManifest; concurrency: number; workDir: string }): Promise<PeerRun> {
  const sshConfig = writeSshConfig(opts.fleet, opts.workDir);
  const hosts = opts.fleet.hosts.map((h) => `ssh://audit@127.0.0.1:${h.sshPort}`).join(',');
  const args = [
    '-m',
    'pytest',
    path.join(PEER_DIR, 'test_file_hashes.py'),
    '-q',
    '-p',
    'no:cacheprovider',
    '-n',
    String(opts.concurrency),
    `--hosts=${hosts}`,
    `--ssh-config=${sshConfig}`,
  ];
  const command = `BENCH_GOLDEN_MANIFEST=<golden.json> python -m pytest bench/peer/test_file_hashes.py -q -p no:cacheprovider -n ${opts.concurrency} --hosts=ssh://audit@127.0.0.1:<port>,... --ssh-config=<ssh_config>`;
  log(`testinfra: ${opts.fleet.hosts.length} hosts, ${opts.concurrency} xdist workers`);
  const r = await runMeasured(path.join(VENV, 'bin', 'python'), args, { cwd: opts.workDir, env: { ...process.env, BENCH_GOLDEN_MANIFEST: opts.golden.file } });
  const { exitCode, wallSeconds, cpuSeconds, memory } = r;
  const out = `${r.stdout}\n${r.stderr}`;
  const n = (word: string) =>
    Number(
      new RegExp(`(\\d+) ${word}`).exec(
        out
          .split('\n')
          .filter((l) => / in [\d.]+s/.test(l))
          .pop() ?? '',
      )?.[1] ?? 0,
    );
  const counts = { passed: n('passed'), failed: n('failed'), errors: n('error') };
  const valid = exitCode === 0 && counts.passed === opts.fleet.hosts.length;
  const problem = valid
    ? undefined
    : `exit ${exitCode}, ${counts.passed}/${opts.fleet.hosts.length} passed: ${out.trim().split('\n').slice(-6).join(' | ').slice(0, 600)}`;
  log(`  ${wallSeconds} s wall, ${cpuSeconds} CPU s, peak ${memory.peakTreeMiB} MiB, ${counts.passed} passed${valid ? '' : `, INVALID: ${problem}`}`);
  return {
    tool: 'testinfra',
    hosts: opts.fleet.hosts.length,
    concurrency: opts.concurrency,
    wallSeconds,
    cpuSeconds,
    memory,
    exitCode,
    counts,
    valid,
    ...(problem ? { problem } : {}),
    command,
  };
}

/** One driftless/testinfra pair on the same hosts (bench/run.ts pairs them, bench/readme.ts prints them). */
export interface PeerComparison {
  scope: string;
  hosts: number;
  concurrency: number;
  driftlessSeconds: number;
  testinfraSeconds: number;
  /** testinfra time / driftless time: how many times faster driftless was (> 1 = faster). */
  speedup: number;
  driftlessCpuSeconds: number;
  testinfraCpuSeconds: number;
  /** testinfra CPU / driftless CPU: what each harness itself costs (the hosts' sshd and hashing excluded). */
  cpuRatio: number;
  valid: boolean;
}
