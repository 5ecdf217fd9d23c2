/**
 * Only the image runs (DL-IMG-017): the process list script run for real on this machine (a copy
 * of sleep started from /tmp, then deleted under it), its parser, and the judgement of a lab-like
 * host's processes against a golden manifest: the lab's own processes (PID 1's entrypoint, the
 * Python server, sshd's listener and the audit's own sessions, `sh -c` and `bash -c`) pass; a
 * dropped binary, a script in a writable path, a replaced or deleted executable fail; what cannot
 * be told is broken, never passed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import type { HostImageAudit } from '../../audits/image/image-gather.ts';
import { imageIntegritySuite } from '../../audits/image/image-suite.ts';
import { commandOf, goldenView, judgeRuntime, resolveInImage, scriptArgument } from '../../audits/image/runtime.ts';
import { plannedCheck } from '../../core/run-plan.ts';
import type { Config } from '../../core/config.ts';
import type { Manifest, ManifestEntry } from '../../probes/manifest.ts';
import { parseProcessList, PROCESS_LIST_COMMAND, type ProcessEntry, type ProcessList, splitCmdline } from '../../probes/processes.ts';
import { judge } from '../helpers/suite-run.ts';

const H = (c: string) => c.repeat(64);
const file = (p: string, sha = H('a')): ManifestEntry => ({ path: p, type: 'file', mode: '0755', uid: 0, gid: 0, size: 1, sha256: sha });
const link = (p: string, target: string): ManifestEntry => ({ path: p, type: 'symlink', mode: '0777', uid: 0, gid: 0, size: target.length, target });
const dir = (p: string): ManifestEntry => ({ path: p, type: 'dir', mode: '0755', uid: 0, gid: 0, size: 0 });

/** The golden manifest of a lab-like image: merged /usr, bash, dash as sh, python3 -> python3.11, sshd, the app. */
const GOLDEN: Manifest = {
  version: 1,
  root: 'image:test',
  paths: ['/bin', '/etc', '/lib', '/opt/app', '/sbin', '/usr/bin', '/usr/lib', '/usr/sbin', '/var/lib/dpkg'],
  excludes: ['/etc/ssh/keys'],
  entries: [
    link('/bin', 'usr/bin'),
    link('/sbin', 'usr/sbin'),
    dir('/opt/app'),
    file('/opt/app/entrypoint.sh', H('e')),
    file('/opt/app/server.py', H('5')),
    dir('/usr/bin'),
    file('/usr/bin/bash', H('b')),
    file('/usr/bin/dash', H('d')),
    link('/usr/bin/sh', 'dash'),
    link('/usr/bin/python3', 'python3.11'),
    file('/usr/bin/python3.11', H('7')),
    file('/usr/bin/cat', H('c')),
    file('/usr/bin/sleep', H('1')),
    dir('/usr/sbin'),
    file('/usr/sbin/sshd', H('f')),
  ],
};
const golden = goldenView(GOLDEN);

const proc = (pid: number, argv: string[], extra: Partial<ProcessEntry> = {}): ProcessEntry => ({ pid, ppid: 1, uid: 0, state: 'S', argv, ...extra });

/** What the lab's cattle runs while `audit` (uid 1000) lists it, its own processes readable. */
const LAB: ProcessEntry[] = [
  proc(1, ['/bin/bash', '/opt/app/entrypoint.sh'], { ppid: 0 }),
  proc(7, ['python3', '/opt/app/server.py']),
  proc(8, ['sshd: /usr/sbin/sshd -D -e -p 21021 [listener] 0 of 10-100 startups']),
  proc(40, ['sshd: audit [priv]'], { ppid: 8 }),
  proc(42, ['sshd: audit@notty'], { ppid: 40, uid: 1000 }),
  proc(43, ['bash', '-c', 'sh -c "…the process list…"'], { ppid: 42, uid: 1000, exe: '/usr/bin/bash', exeSha256: H('b'), cwd: '/home/audit' }),
  proc(44, ['sh', '-c', 'LC_ALL=C; …'], { ppid: 43, uid: 1000, exe: '/usr/bin/dash', exeSha256: H('d'), cwd: '/home/audit' }),
  proc(45, ['cat', '/proc/self/mountinfo'], { ppid: 44, uid: 1000, exe: '/usr/bin/cat', exeSha256: H('c'), cwd: '/home/audit' }),
  proc(46, ['-bash'], { uid: 1000 }),
  proc(47, [], { state: 'Z' }),
];

describe('the process list probe, run for real on this machine', () => {
  const tmp = fs.mkdtempSync('/tmp/driftless-runtime-');
  const payload = path.join(tmp, 'payload');
  fs.copyFileSync('/bin/sleep', payload);
  fs.chmodSync(payload, 0o755);
  const child = spawn(payload, ['300'], { stdio: 'ignore' });
  after(() => {
    child.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  const list = (): ProcessList => {
    const r = spawnSync('bash', ['-c', PROCESS_LIST_COMMAND], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(r.status, 0, r.stderr);
    return parseProcessList(r.stdout, r.stderr);
  };

  test("lists a dropped binary's command line, executable and hash; the judgement fails it as a writable path", async () => {
    await new Promise((r) => setTimeout(r, 100)); // exec'd
    const ps = list();
    assert.equal(ps.uid, process.getuid!());
    const p = ps.processes.find((x) => x.pid === child.pid);
    assert.ok(p, 'the payload is listed');
    assert.deepEqual(p.argv, [payload, '300']);
    assert.equal(p.exe, payload);
    assert.equal(p.exeSha256, createHash('sha256').update(fs.readFileSync(payload)).digest('hex'));
    assert.equal(p.state, 'S');
    const r = judgeRuntime({ uid: ps.uid, processes: [p] }, golden, []);
    assert.equal(r.failed.length, 1);
    assert.match(r.failed[0]!.problems.join('; '), new RegExp(`its command ${payload} is in a writable path \\(/tmp\\)`));
    assert.deepEqual(r.failed[0]!.argv, [payload, '300'], 'the command line of a flagged process is kept as evidence');
  });

  test('an executable deleted under the running process is seen as deleted', () => {
    fs.rmSync(payload);
    const p = list().processes.find((x) => x.pid === child.pid)!;
    assert.equal(p.exe, `${payload} (deleted)`);
    assert.ok(p.exeSha256, 'still hashed through /proc/<pid>/exe');
    const r = judgeRuntime({ uid: 0, processes: [p] }, golden, []);
    assert.match(r.failed[0]!.problems.join('; '), /its executable \/tmp\/.*\/payload was deleted or replaced since the process started/);
  });
});

describe('parsing the process list', () => {
  const b = (s: string) => Buffer.from(s).toString('base64');
  test('decodes each field; a rewritten title keeps its spaces; what was not readable is absent', () => {
    const status = 'Name:\tsshd\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t8\nPid:\t8\nPPid:\t1\nUid:\t0\t0\t0\t0\n';
    const out = `driftless-ps-v1 1000\nP 8 ${b('sshd: audit [priv]\0\0\0')} ${b(status)} - - -\nP 9 ${b('a\0b c\0')} - ${b('/usr/bin/x')} ${b('/')} ${H('c')}\nEND\n`;
    const ps = parseProcessList(out);
    assert.equal(ps.uid, 1000);
    assert.deepEqual(ps.processes[0], { pid: 8, name: 'sshd', state: 'S', ppid: 1, uid: 0, argv: ['sshd: audit [priv]'] });
    assert.deepEqual(ps.processes[1], { pid: 9, argv: ['a', 'b c'], exe: '/usr/bin/x', exeSha256: H('c'), cwd: '/' });
    assert.deepEqual(splitCmdline('x\0\0'), ['x']);
  });
  test('fails closed: no header, no END (cut off), or a line it does not know', () => {
    assert.throws(() => parseProcessList('', 'sh: base64: not found'), /did not start .*stderr: sh: base64: not found/);
    assert.throws(() => parseProcessList('driftless-ps-v1 0\nP 1 - - - - -\n'), /cut off/);
    assert.throws(() => parseProcessList('driftless-ps-v1 0\nQ 1\nEND\n'), /a line it does not know/);
  });
});

describe('commands, scripts and the image', () => {
  test("a title's first word, a login shell's dash", () => {
    assert.deepEqual(commandOf(['sshd: audit@notty']), { command: 'sshd', title: true });
    assert.deepEqual(commandOf(['-bash']), { command: 'bash', title: false });
    assert.deepEqual(commandOf(['/usr/bin/python3', 'x y']), { command: '/usr/bin/python3', title: false });
    assert.equal(commandOf([]), undefined);
  });
  test("an interpreter's script: its first argument that is not an option; none for inline code", () => {
    assert.equal(scriptArgument('shell', ['-c', 'x']), undefined);
    assert.equal(scriptArgument('shell', ['-ec', 'x']), undefined);
    assert.equal(scriptArgument('shell', ['-e', '/tmp/x.sh', 'arg']), '/tmp/x.sh');
    assert.equal(scriptArgument('shell', ['-o', 'pipefail', 'run.sh']), 'run.sh');
    assert.equal(scriptArgument('python', ['-u', '/opt/app/server.py']), '/opt/app/server.py');
    assert.equal(scriptArgument('python', ['-m', 'http.server']), undefined);
    assert.equal(scriptArgument('python', ['-W', 'ignore', '/dev/shm/x.py']), '/dev/shm/x.py');
    assert.equal(scriptArgument('perl', ['-I', 'lib', '/tmp/x.pl']), '/tmp/x.pl');
    assert.equal(scriptArgument('perl', ['-e', 'print 1']), undefined);
    assert.equal(scriptArgument('node', ['--require', 'r', '/srv/app.js']), '/srv/app.js');
    assert.equal(scriptArgument('node', ['--', '/tmp/a.js']), '/tmp/a.js');
  });
  test("the image's symlinks are followed: /bin/bash is /usr/bin/bash, python3 is python3.11", () => {
    assert.equal(resolveInImage('/bin/bash', golden).path, '/usr/bin/bash');
    assert.equal(resolveInImage('/usr/bin/python3', golden).entry?.sha256, H('7'));
    assert.equal(resolveInImage('/bin/sh', golden).path, '/usr/bin/dash');
    assert.equal(resolveInImage('/usr/local/bin/node', golden).covered, false);
  });
});

describe('judging what runs', () => {
  test("the lab's own processes pass: entrypoint, server, sshd's listener and sessions, the audit's shells", () => {
    const r = judgeRuntime({ uid: 1000, processes: LAB }, golden, ['/tmp', '/run']);
    assert.deepEqual(
      r.failed.map((f) => f.problems),
      [],
    );
    assert.deepEqual(
      r.unverified.map((f) => f.unverified),
      [],
    );
    assert.equal(r.commandLines, 9);
    assert.equal(r.executables, 3);
    assert.equal(r.skipped, 1, 'the zombie');
    const byPid = new Map(r.findings.map((f) => [f.pid, f]));
    assert.equal(byPid.get(1)!.file, '/usr/bin/bash');
    assert.equal(byPid.get(1)!.script, '/opt/app/entrypoint.sh');
    assert.equal(byPid.get(7)!.file, '/usr/bin/python3.11');
    assert.equal(byPid.get(8)!.file, '/usr/sbin/sshd');
    assert.equal(byPid.get(44)!.script, undefined, 'sh -c runs inline code, no script');
  });

  const one = (p: ProcessEntry, writable: string[] = []) => judgeRuntime({ uid: 0, processes: [p] }, golden, writable);
  const problems = (p: ProcessEntry, writable: string[] = []) => one(p, writable).failed.flatMap((f) => f.problems);
  const unverified = (p: ProcessEntry) => one(p).unverified.flatMap((f) => f.unverified);

  test('code that is not the image fails, saying why', () => {
    assert.deepEqual(problems(proc(9, ['/dev/shm/x'])), ['its command /dev/shm/x is in a writable path (/dev/shm)']);
    assert.deepEqual(problems(proc(9, ['python3', '/var/tmp/miner.py'])), ['its script /var/tmp/miner.py is in a writable path (/var/tmp)']);
    assert.deepEqual(problems(proc(9, ['/opt/app/uploads/tool'], {}), ['/opt/app/uploads']), [
      'its command /opt/app/uploads/tool is in a writable path (/opt/app/uploads)',
    ]);
    assert.deepEqual(problems(proc(9, ['/opt/app/helper'])), ['its command /opt/app/helper is not a file of the image (not in its golden manifest)']);
    assert.deepEqual(problems(proc(9, ['sh', 'run.sh'], { cwd: '/tmp/w' })), ['its script /tmp/w/run.sh is in a writable path (/tmp)']);
    assert.deepEqual(problems(proc(9, ['/usr/bin/sleep', '9'], { exe: '/usr/bin/sleep', exeSha256: H('0') })), [
      `its executable /usr/bin/sleep differs from the image's (sha256 ${H('0')}, the image has ${H('1')})`,
    ]);
    assert.deepEqual(problems(proc(9, ['sleep', '9'], { exe: '/usr/bin/sleep (deleted)', exeSha256: H('1') })), [
      'its executable /usr/bin/sleep was deleted or replaced since the process started',
    ]);
    assert.deepEqual(problems(proc(9, ['/usr/bin'])), ['its command /usr/bin is a dir in the image, not a file']);
  });

  test('what cannot be tied to the image is not a pass: relative paths without a readable cwd, paths the manifest does not cover', () => {
    assert.deepEqual(unverified(proc(9, ['./worker'])), ['its command ./worker is relative to a working directory the login user cannot read']);
    const covered = '(/bin, /etc, /lib, /opt/app, /sbin, /usr/bin, /usr/lib, /usr/sbin, /var/lib/dpkg)';
    assert.deepEqual(unverified(proc(9, ['/usr/local/bin/node', '/srv/app.js'])), [
      `its command /usr/local/bin/node is outside what the golden manifest covers ${covered}`,
      `its script /srv/app.js is outside what the golden manifest covers ${covered}`,
    ]);
    assert.match(
      unverified(proc(9, ['node', '/opt/app/server.py']))[0]!,
      /its command "node" is in none of the PATH directories the golden manifest covers, and it does not cover \/usr\/local\/sbin, \/usr\/local\/bin/,
    );
    assert.deepEqual(unverified(proc(9, [], { state: 'S' })), ['its command line is empty and its executable cannot be read']);
    assert.equal(one(proc(2, [], { ppid: 0 })).skipped, 1, 'a kernel thread');
  });

  test('a bare name the image has nowhere on PATH fails when the manifest covers every PATH directory', () => {
    const all = goldenView({ ...GOLDEN, paths: [...GOLDEN.paths, '/usr/local'] });
    const r = judgeRuntime({ uid: 0, processes: [proc(9, ['xmrig'])] }, all, []);
    assert.deepEqual(r.failed[0]!.problems, [
      'its command "xmrig" is no file of the image (looked for in /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin)',
    ]);
  });
});

describe('DL-IMG-017 judged', () => {
  const check = plannedCheck('DL-IMG-017', { fleet: 'web', host: 'h1' });
  const config = {
    release: { services: {} },
    policy: { ssh: { writablePaths: ['/tmp', '/run'] }, manifest: { metadataOnly: [] } },
    safety: { maxKills: 0 },
  } as unknown as Config;
  const audit = (runtime: HostImageAudit['runtime']): HostImageAudit =>
    ({ host: 'h1', fleet: 'web', provider: 'docker', instanceId: 'i1', image: {}, runtime }) as HostImageAudit;
  const login = { user: 'audit', address: '127.0.0.1:21021' };
  const run = (runtime: HostImageAudit['runtime']) => judge(imageIntegritySuite, [audit(runtime)], [check], config)[0]!;

  test('the lab passes, and the evidence says what was verified how', () => {
    const r = run({ list: { uid: 1000, processes: LAB }, login, golden: GOLDEN, goldenSource: 'image:sha256:x' });
    assert.equal(r.status, 'passed', r.message);
    const ev = JSON.parse(r.evidence.find((e) => e.name === 'processes')!.body) as { how: string };
    assert.match(ev.how, /as audit \(uid 1000\) at 127\.0\.0\.1:21021: the command lines of 9 processes .* and the executables of 3 /);
    assert.match(ev.how, /a hostile process can forge it/);
  });

  test('a dropped binary fails as foreign code, naming the process', () => {
    const r = run({ list: { uid: 1000, processes: [...LAB, proc(77, ['/tmp/payload', '3600'])] }, login, golden: GOLDEN });
    assert.equal(r.status, 'failed');
    assert.equal(r.violation, 'foreign-code');
    assert.match(
      r.message!,
      /^h1 runs code that is not part of its image: pid 77 \(uid 0\) \/tmp\/payload: its command \/tmp\/payload is in a writable path \(\/tmp\)$/,
    );
  });

  test('no list, an empty one, or one without PID 1 (hidepid) is broken', () => {
    assert.equal(run({ error: 'the process list could not be read as audit: cut off' }).status, 'broken');
    assert.equal(run(undefined).status, 'broken');
    assert.match(run({ list: { uid: 1000, processes: [] }, login, golden: GOLDEN }).message!, /is empty: nothing shows what runs/);
    const hidden = run({ list: { uid: 1000, processes: LAB.filter((p) => p.uid === 1000) }, login, golden: GOLDEN });
    assert.equal(hidden.status, 'broken');
    assert.match(hidden.message!, /sees 5 processes and not PID 1: \/proc hides other users' processes \(hidepid\)/);
    const unknown = run({ list: { uid: 1000, processes: [...LAB, proc(9, ['./worker'])] }, login, golden: GOLDEN });
    assert.equal(unknown.status, 'broken');
    assert.match(unknown.message!, /1 processes could not be tied to the image: pid 9 \(uid 0\) \.\/worker: its command \.\/worker is relative/);
  });
});
