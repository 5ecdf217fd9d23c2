/** `driftless run`: parses the options, runs the engine (engine/run.ts), prints what happens and the verdict. */
import path from 'node:path';
import { UsageError } from '../core/errors.ts';
import { RUN_ID_PATTERN } from '../core/run.ts';
import { isSuiteName, SUITES, type SuiteName } from '../core/suites.ts';
import { type RunObserver, runEngine } from '../engine/run.ts';
import { parseOutputs } from '../reports/outputs.ts';
import { changeLines, findingLines, verdictLines } from '../reports/terminal.ts';
import { publishOutputs } from './outputs.ts';
import { type Parsed, str, strs } from './parsed.ts';

const say = (s: string) => process.stdout.write(s + '\n');

const observer: RunObserver = {
  started: ({ runId, seed, seedFrom, configFile }) =>
    say(
      `driftless run ${runId} (seed ${seed}, ${seedFrom === 'cli' ? 'from --seed' : seedFrom === 'config' ? 'from chaos.seed' : 'drawn'}) with ${configFile}`,
    ),
  checks: ({ files, controls }) => {
    say(`  checks: ${controls.length} controls of your own from ${files} files`);
    for (const c of controls) say(`    ${c.id} (scope ${c.scope}, ${c.tests} test${c.tests === 1 ? '' : 's'}): ${path.relative(process.cwd(), c.file)}`);
  },
  snapshot: (inventory) => {
    for (const f of inventory) say(`  fleet ${f.target} (${f.provider}): ${f.error ? `cannot list: ${f.error}` : `${f.hosts.length} hosts`}`);
  },
  planned: ({ plan, owed, shard }) => {
    say(
      `  plan: ${plan.checks.length} checks owed${shard ? `, ${owed} of them by shard ${shard.index}/${shard.total}` : ''}; ` +
        `${plan.notApplicable.length} not applicable (reasons below and in verdict.json)`,
    );
    for (const n of plan.notApplicable)
      say(`    not applicable: ${n.fleet}${n.host ? `/${n.host}` : n.resource ? ` ${n.resource}` : ''} ${n.control ?? n.suite}: ${n.reason}`);
  },
  phase: ({ phase, suites }) => say(`\n== ${phase}: ${suites ? suites.join(', ') : 'nothing owed (see "not applicable" above)'}`),
  recorded: ({ suite, records, error }) => say(error ? `  ${suite}: ${error}` : `  ${suite}: ${records} results recorded`),
};

export async function runCommand(p: Parsed): Promise<number> {
  // chaos-kill: the suite's name before it was renamed chaos; still accepted
  const suites = (strs(p, 'suite') ?? [...SUITES]).map((s) => (s === 'chaos-kill' ? 'chaos' : s));
  for (const s of suites) if (!isSuiteName(s)) throw new UsageError(`--suite ${s}: no such suite (one of ${SUITES.join(', ')})`);
  const seedText = str(p, 'seed');
  if (seedText !== undefined && !/^\d+$/.test(seedText)) throw new UsageError(`--seed ${seedText}: must be a non-negative integer`);
  const seed = seedText === undefined ? undefined : Number(seedText);
  if (seed !== undefined && (!Number.isSafeInteger(seed) || seed > 0xffffffff))
    throw new UsageError(`--seed ${seedText}: must be a 32-bit unsigned integer (0 to 4294967295)`);
  const shardText = str(p, 'shard');
  const shard = shardText === undefined ? null : parseShard(shardText);
  const runId = str(p, 'run-id');
  if (runId !== undefined && !RUN_ID_PATTERN.test(runId))
    throw new UsageError(`--run-id ${runId}: use 1 to 100 letters, digits, '.', '_' or '-' (e.g. nightly-$GITHUB_RUN_ID)`);
  if (shard && !runId) throw new UsageError(`--shard ${shardText} needs --run-id: every shard of one run must carry the same id, so the report can merge them`);

  const out = await runEngine(
    {
      suites: suites as SuiteName[],
      shard,
      ...(str(p, 'config') !== undefined ? { configFile: str(p, 'config') } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(runId !== undefined ? { runId } : {}),
      ...(str(p, 'results-dir') !== undefined ? { resultsDir: str(p, 'results-dir') } : {}),
      ...(str(p, 'before') !== undefined ? { before: str(p, 'before') } : {}),
      ...(str(p, 'output') !== undefined ? { outputs: parseOutputs(str(p, 'output')!) } : {}),
      ...(str(p, 'baseline') !== undefined ? { baseline: str(p, 'baseline') } : {}),
    },
    observer,
  );
  say('');
  const findings = findingLines(out.records, out.resultsDir);
  if (findings.length) say(`findings:\n${findings.join('\n')}\n`);
  for (const l of verdictLines(out.verdict, { shard: out.shard, verdictFile: out.verdictFile })) say(l);
  for (const l of changeLines(out.verdict, out.baseline)) say(l);
  const rel = path.relative(process.cwd(), out.resultsDir) || '.';
  const b = out.evidence;
  say(
    `  results: ${rel} (typed results in checks/; build the report with \`driftless report${rel === 'driftless-output/results' ? '' : ` --results ${rel}`}\`)`,
  );
  publishOutputs(out.resultsDir, out.outputs, say);
  say(
    `  evidence: ${path.join(rel, 'driftless-evidence.json')} (${b.files.length} files, ${b.signature ? `signed by ${b.signature.keyFingerprint}` : 'UNSIGNED: set report.signingKey'})`,
  );
  return out.verdict.exitCode;
}

function parseShard(text: string): { index: number; total: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const total = Number(m?.[2]);
  if (!m || total < 1 || index < 1 || index > total) throw new UsageError(`--shard ${text}: must look like 1/3 (a shard from 1 to the number of shards)`);
  return { index, total };
}
