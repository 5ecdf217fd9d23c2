/**
 * What the figures were measured on: every result file carries it, because a ratio only means
 * something next to the machine (cores, memory, kernel, engine) and the commit that produced it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

function tryRun(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

export interface MachineDetails {
  hostname: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  node: string;
  dockerEngine?: string;
  storageDriver?: string;
  python?: string;
  wrk?: string;
  gitCommit?: string;
  gitDirty?: boolean;
  loadAverageAtStart: number[];
}

export function machineDetails(repoRoot: string): MachineDetails {
  const osRelease = fs.existsSync('/etc/os-release') ? fs.readFileSync('/etc/os-release', 'utf8') : '';
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1];
  const status = tryRun('git', ['-C', repoRoot, 'status', '--porcelain', '--untracked-files=no']);
  const wrk = tryRun('wrk', ['-v']) ?? tryRun('sh', ['-c', 'wrk -v 2>&1 | head -1']);
  // each probe runs once; missing tools are simply left out
  const optional: Record<string, string | undefined> = {
    dockerEngine: tryRun('docker', ['version', '--format', '{{.Server.Version}}']),
    storageDriver: tryRun('docker', ['info', '--format', '{{.Driver}}']),
    python: tryRun('python3', ['--version']),
    wrk: wrk?.split('\n')[0],
    gitCommit: tryRun('git', ['-C', repoRoot, 'rev-parse', 'HEAD']),
  };
  const present = Object.fromEntries(Object.entries(optional).filter(([, v]) => v)) as Partial<MachineDetails>;
  return {
    hostname: os.hostname(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    os: pretty ?? os.platform(),
    node: process.version,
    ...present,
    ...(status !== undefined ? { gitDirty: status.length > 0 } : {}),
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
