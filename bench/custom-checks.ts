/**
 * The checks of the bench's `custom` part (bench/custom.ts): twenty reads a team might write, each
 * one small command over SSH and one expectation, written three ways from one table:
 *
 *   - as check files ('driftless/test': control() and test() with expect), run by `driftless run`;
 *   - as empty Playwright tests, as many and in as many files, to price an empty test;
 *   - as one built-in-style suite (bench/custom-judge.ts: one SSH session per host, judges keyed by
 *     control id), run through the engine in one process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { ControlDeclaration } from '../audits/custom/declare.ts';
import type { BenchFleet } from './fleet.ts';

export type Expectation =
  | { kind: 'equals'; value: string } // stdout, trimmed
  | { kind: 'matches'; pattern: string } // stdout, trimmed
  | { kind: 'exit'; code: number }
  | { kind: 'lacks'; values: string[] } // none of these is a line of stdout
  | { kind: 'only'; values: string[] }; // every non-empty line of stdout is one of these

export interface BenchCheck {
  id: string;
  title: string;
  category: string;
  proves: string;
  command: string;
  expect: Expectation;
}

/** Twenty reads a team might write, each one command and one expect; all hold on a compliant bench host. */
const TEMPLATES: Array<Omit<BenchCheck, 'id'>> = [
  {
    title: 'no cron daemon runs',
    category: 'Mutable host',
    proves: 'a scheduler can change the host outside the deploy path',
    command: 'cat /proc/[0-9]*/comm 2>/dev/null',
    expect: { kind: 'lacks', values: ['cron', 'crond', 'anacron', 'atd'] },
  },
  {
    title: 'sshd refuses passwords',
    category: 'Out-of-band access',
    proves: 'anyone with a password can log in',
    command: "grep -i '^PasswordAuthentication' /etc/ssh/sshd_config",
    expect: { kind: 'equals', value: 'PasswordAuthentication no' },
  },
  {
    title: 'sshd refuses root',
    category: 'Out-of-band access',
    proves: 'root can log in over SSH',
    command: "grep -i '^PermitRootLogin' /etc/ssh/sshd_config",
    expect: { kind: 'equals', value: 'PermitRootLogin no' },
  },
  {
    title: 'the audit login is not root',
    category: 'Mutable host',
    proves: 'the audit login can change anything',
    command: 'id -u',
    expect: { kind: 'matches', pattern: '^[1-9][0-9]*$' },
  },
  {
    title: 'address space layout is randomised',
    category: 'Mutable host',
    proves: 'the kernel was tuned at run time',
    command: 'cat /proc/sys/kernel/randomize_va_space',
    expect: { kind: 'equals', value: '2' },
  },
  {
    title: 'the root filesystem is mounted read-only',
    category: 'Mutable host',
    proves: 'anything can be written to the image',
    command: 'awk \'$5 == "/" {print $6}\' /proc/self/mountinfo',
    expect: { kind: 'matches', pattern: '^ro(,|$)' },
  },
  {
    title: '/etc is not writable by the login',
    category: 'Mutable host',
    proves: 'the configuration can be edited in place',
    command: 'test -w /etc',
    expect: { kind: 'exit', code: 1 },
  },
  {
    title: '/usr/bin is not writable by the login',
    category: 'Mutable host',
    proves: 'binaries can be replaced in place',
    command: 'test -w /usr/bin',
    expect: { kind: 'exit', code: 1 },
  },
  {
    title: 'processes cannot gain privileges',
    category: 'Mutable host',
    proves: 'setuid binaries can escalate',
    command: "grep '^NoNewPrivs:' /proc/self/status",
    expect: { kind: 'matches', pattern: '^NoNewPrivs:\\s+1$' },
  },
  {
    title: '/etc/shadow is not world-readable',
    category: 'Out-of-band access',
    proves: 'password hashes can be read',
    command: 'stat -c %a /etc/shadow',
    expect: { kind: 'matches', pattern: '^[0-7][0-7]0$' },
  },
  {
    title: 'sshd_config belongs to root',
    category: 'Out-of-band access',
    proves: 'another account can change how sshd logs in',
    command: 'stat -c %U /etc/ssh/sshd_config',
    expect: { kind: 'equals', value: 'root' },
  },
  {
    title: 'no account but root and audit has a shell',
    category: 'Out-of-band access',
    proves: 'a forgotten account can log in',
    command: "awk -F: '$7 ~ /sh$/ {print $1}' /etc/passwd",
    expect: { kind: 'only', values: ['root', 'audit'] },
  },
  {
    title: 'only the audit login has a home',
    category: 'Out-of-band access',
    proves: 'another login was added to the image',
    command: 'ls -A /home',
    expect: { kind: 'equals', value: 'audit' },
  },
  {
    title: 'no world-writable file in /etc',
    category: 'Mutable host',
    proves: 'any user can change the configuration',
    command: 'find /etc -maxdepth 1 -type f -perm -o+w',
    expect: { kind: 'equals', value: '' },
  },
  {
    title: 'the OS release is the image’s',
    category: 'Drift',
    proves: 'the host was upgraded in place',
    command: "grep '^VERSION_ID=' /etc/os-release",
    expect: { kind: 'equals', value: 'VERSION_ID="12"' },
  },
  {
    title: 'the login umask is 022',
    category: 'Mutable host',
    proves: 'files are created group- or world-writable',
    command: 'umask',
    expect: { kind: 'equals', value: '0022' },
  },
  {
    title: 'no compiler on the host',
    category: 'Drift',
    proves: 'software can be built on the host',
    command: 'command -v gcc cc make 2>/dev/null',
    expect: { kind: 'equals', value: '' },
  },
  {
    title: 'no Docker socket on the host',
    category: 'Out-of-band access',
    proves: 'the container can control its engine',
    command: 'test -e /var/run/docker.sock',
    expect: { kind: 'exit', code: 1 },
  },
  {
    title: 'no shell history in the login’s home',
    category: 'Mutable host',
    proves: 'someone worked on the host interactively',
    command: "ls -A ~ | grep -c '^\\.[a-z]*_history$'",
    expect: { kind: 'equals', value: '0' },
  },
  {
    title: 'PID 1 is sshd',
    category: 'Mutable host',
    proves: 'the host runs something its image does not start',
    command: 'cat /proc/1/comm',
    expect: { kind: 'equals', value: 'sshd' },
  },
];

/** `n` checks, BENCH-CHK-001…: the twenty templates, repeated when more are asked for. */
export function benchChecks(n: number): BenchCheck[] {
  return Array.from({ length: n }, (_, i) => ({ id: `BENCH-CHK-${String(i + 1).padStart(3, '0')}`, ...TEMPLATES[i % TEMPLATES.length]! }));
}

const linesOf = (s: string) =>
  s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** Why a result does not meet the expectation, or undefined when it does ((c)'s judges). */
export function unmet(e: Expectation, r: { exitCode: number | null; stdout: string }): string | undefined {
  const out = r.stdout.trim();
  switch (e.kind) {
    case 'equals':
      return out === e.value ? undefined : `expected ${JSON.stringify(e.value)}, got ${JSON.stringify(out.slice(0, 200))}`;
    case 'matches':
      return new RegExp(e.pattern).test(out) ? undefined : `expected to match /${e.pattern}/, got ${JSON.stringify(out.slice(0, 200))}`;
    case 'exit':
      return r.exitCode === e.code ? undefined : `expected exit ${e.code}, got ${r.exitCode}`;
    case 'lacks': {
      const found = e.values.filter((v) => linesOf(r.stdout).includes(v));
      return found.length ? `found ${found.join(', ')}` : undefined;
    }
    case 'only': {
      const other = linesOf(r.stdout).filter((l) => !e.values.includes(l));
      return other.length ? `also ${other.slice(0, 5).join(', ')}` : undefined;
    }
  }
}

/** The same expectation as Playwright expect() calls ((a)'s check files). */
function expectSource(e: Expectation): string {
  const lines = "r.stdout.split('\\n').map((l) => l.trim()).filter(Boolean)";
  switch (e.kind) {
    case 'equals':
      return `expect(r.stdout.trim()).toBe(${JSON.stringify(e.value)});`;
    case 'matches':
      return `expect(r.stdout.trim()).toMatch(new RegExp(${JSON.stringify(e.pattern)}));`;
    case 'exit':
      return `expect(r.exitCode).toBe(${e.code});`;
    case 'lacks':
      return `const lines = ${lines};\n  for (const name of ${JSON.stringify(e.values)}) expect(lines).not.toContain(name);`;
    case 'only':
      return `expect(${lines}.filter((l) => !${JSON.stringify(e.values)}.includes(l))).toEqual([]);`;
  }
}

export const declarationOf = (c: BenchCheck): ControlDeclaration => ({ id: c.id, title: c.title, category: c.category, proves: c.proves, scope: 'host' });

/** One check file, as a team would write it. */
export function checkFileSource(c: BenchCheck): string {
  return [
    '// Written by bench/custom.ts: one bench check (one command over SSH, one expect).',
    "import { control, expect, test } from 'driftless/test';",
    '',
    `control(${JSON.stringify(declarationOf(c))});`,
    '',
    `test(${JSON.stringify(c.title)}, async ({ host }) => {`,
    `  const r = await host.run(${JSON.stringify(c.command)});`,
    `  ${expectSource(c.expect)}`,
    '});',
    '',
  ].join('\n');
}

/** Replaces `dir` with one file per entry. */
function writeFolder(dir: string, files: Record<string, string>): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), body);
}

/**
 * The check files of (a). Inside the package (bench/tmp/…): they import 'driftless/test' by the
 * package's name, which Node resolves by self-reference.
 */
export function writeCheckFiles(dir: string, checks: BenchCheck[]): void {
  writeFolder(dir, Object.fromEntries(checks.map((c) => [`${c.id.toLowerCase()}.check.ts`, checkFileSource(c)])));
}

/**
 * (b): as many empty tests as (a) runs, in as many files (one per check, a test per host), a
 * Playwright config with the same workers and fullyParallel, and a reporter that only counts.
 */
export function writeEmptySuite(dir: string, files: number, testsPerFile: number, workers: number): string {
  const specs = Object.fromEntries(
    Array.from({ length: files }, (_, i) => [
      `empty-${String(i + 1).padStart(3, '0')}.spec.ts`,
      `import { test } from '@playwright/test';\n\nfor (let i = 1; i <= ${testsPerFile}; i++) test(\`empty \${i}\`, async () => {});\n`,
    ]),
  );
  writeFolder(dir, {
    ...specs,
    'count-reporter.mjs':
      'export default class CountReporter {\n  passed = 0;\n  total = 0;\n' +
      "  onTestEnd(_t, r) {\n    this.total++;\n    if (r.status === 'passed') this.passed++;\n  }\n" +
      '  onEnd() {\n    process.stdout.write(`empty tests passed: ${this.passed} of ${this.total}\\n`);\n  }\n' +
      '  printsToStdio() {\n    return true;\n  }\n}\n',
    'playwright.config.ts':
      "import { defineConfig } from '@playwright/test';\n\n" +
      `export default defineConfig({\n  testDir: '.',\n  testMatch: /empty-\\d+\\.spec\\.ts$/,\n  outputDir: 'test-output',\n  workers: ${workers},\n` +
      "  fullyParallel: true,\n  retries: 0,\n  reporter: [['./count-reporter.mjs']],\n});\n",
  });
  return path.join(dir, 'playwright.config.ts');
}

/** A static SSH fleet of the bench hosts; with `checks`, the team's check files of (a). */
export function writeCustomConfig(fleet: BenchFleet, concurrency: number, dir: string, checks?: string): string {
  const config = {
    version: 1,
    targets: [
      {
        name: 'bench',
        provider: 'ssh',
        environment: 'bench',
        service: 'bench-sshd',
        ssh: { user: 'audit', identityFile: fleet.keys.identityFile, knownHostsFile: fleet.keys.knownHostsFile },
        hosts: fleet.hosts.map((h) => ({ id: h.name, address: '127.0.0.1', port: h.sshPort })),
      },
    ],
    release: { name: 'bench', services: { 'bench-sshd': { digest: fleet.image } } },
    ...(checks ? { checks: [checks] } : {}),
    policy: { ssh: { mode: 'read-only', concurrency } },
  };
  const file = path.join(dir, `driftless.bench.custom${checks ? '' : '-judgement'}.c${concurrency}.yaml`);
  fs.writeFileSync(file, `# written by bench/custom.ts for one benchmark run\n${stringify(config)}`);
  return file;
}
