/**
 * The bench's checks (bench/custom-checks.ts) as one built-in-style suite: what the custom suite
 * would owe (its plan), gathered over one SSH session per host (its endpoint proven first, as
 * every suite does), judged by control id with each command, its exit code and output as the
 * evidence. Run through the engine in one process, for bench/custom.ts (c):
 *
 *   node --import tsx bench/custom-judge.ts <config> <checks>
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { planCustom } from '../audits/custom/custom-suite.ts';
import { controlOf } from '../audits/custom/declare.ts';
import type { CommandRecord } from '../audits/custom/host-access.ts';
import { requireEndpoint } from '../audits/endpoint-identity.ts';
import type { SuiteModule, SuiteRun } from '../audits/suite.ts';
import { SUITE_MODULES } from '../audits/suites.ts';
import { json } from '../core/check-result.ts';
import { registerControls } from '../core/controls.ts';
import { errorMessage } from '../core/errors.ts';
import { runEngine } from '../engine/run.ts';
import { SshSession } from '../probes/ssh.ts';
import { sshLoginFor } from '../providers/ssh-login.ts';
import { type BenchCheck, benchChecks, declarationOf, unmet } from './custom-checks.ts';

/** What (c) gathered on one host: each check's command record, or why the host could not be read. */
type HostFacts = { records: Map<string, CommandRecord> } | { error: string };

async function inParallel<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
}

/** The K checks as one suite: it owes what the custom suite would, and judges each check by its id. */
export function judgementSuite(checks: BenchCheck[]): SuiteModule {
  const byId = new Map(checks.map((c) => [c.id, c]));
  return {
    name: 'custom',
    plan: planCustom,
    async gather(run: SuiteRun): Promise<Map<string, HostFacts>> {
      const t0 = Date.now();
      const facts = new Map<string, HostFacts>();
      const hosts = [...new Set(run.owed.map((c) => `${c.fleet}\u0000${c.host}`))].map((k) => k.split('\u0000') as [string, string]);
      await inParallel(hosts, run.config.policy.ssh.concurrency, async ([fleet, id]) => {
        const target = run.config.targets.find((t) => t.name === fleet)!;
        const host = run.inventory.find((s) => s.target === fleet)!.hosts.find((h) => h.id === id)!;
        const login = sshLoginFor(host, target);
        if ('error' in login) return void facts.set(`${fleet}/${id}`, { error: login.error });
        let session: SshSession | undefined;
        try {
          session = await SshSession.connect(login);
          await requireEndpoint(session, host, `${login.host}:${login.port}`);
          const records = new Map<string, CommandRecord>();
          for (const c of checks) {
            const r = await session.exec(c.command, 30_000);
            records.set(c.id, { command: c.command, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, durationMs: r.durationMs });
          }
          facts.set(`${fleet}/${id}`, { records });
        } catch (err) {
          facts.set(`${fleet}/${id}`, { error: errorMessage(err) });
        } finally {
          await session?.close();
        }
      });
      run.progress(`audit finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return facts;
    },
    unitOf: (facts, check, j) => {
      const f = (facts as Map<string, HostFacts>).get(`${check.fleet}/${check.host}`);
      if (!f) return { result: j.broken(`${check.host} was not read`) };
      if ('error' in f) return { result: j.broken(`${check.host}: ${f.error}`) };
      const r = f.records.get(check.control);
      return r ? { unit: r } : { result: j.broken(`no output of ${check.control} on ${check.host}`) };
    },
    judges: Object.fromEntries(
      checks.map((c) => [
        c.id,
        (j, unit, check) => {
          const r = unit as CommandRecord;
          j.attach(json('commands', [{ host: check.host, ...r }]));
          const why = unmet(c.expect, r);
          return why ? j.failAs(byId.get(check.control)!.category, `${c.title}: ${why}`) : j.pass();
        },
      ]),
    ) as SuiteModule['judges'],
  };
}

/** (c), in one process, as the engine runs a built-in suite. */
async function judgeMain(configFile: string, n: number): Promise<number> {
  const checks = benchChecks(n);
  registerControls(checks.map((c) => controlOf(declarationOf(c), 'bench/custom-judge.ts')));
  const out = await runEngine(
    { configFile, suites: ['custom'], shard: null, modules: { ...SUITE_MODULES, custom: judgementSuite(checks) } },
    // Quiet, as the CLI is but for the suites' progress lines (core/run.ts writes those to stderr).
    { started: () => {}, snapshot: () => {}, planned: () => {}, phase: () => {}, recorded: () => {} },
  );
  return out.verdict.exitCode;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.length === 4) {
  judgeMain(process.argv[2]!, Number(process.argv[3])).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`bench custom-judge: ${errorMessage(err)}\n`);
      process.exit(3);
    },
  );
}
