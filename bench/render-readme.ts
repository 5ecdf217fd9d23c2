/**
 * `npm run bench:render -- bench/results/<timestamp>.json`: renders bench/README.md's tables again
 * from one full run's result file, with its goals (bench/goals.ts) judged from that file's figures
 * and written into it (and into latest.json when it is the latest run). Measures nothing: used when
 * the tables' rendering changed after a run. Exit 2 when the file is not a full run's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { errorMessage, ExitCode, UsageError } from '../core/errors.ts';
import { REPO_ROOT } from '../core/paths.ts';
import { goalsOf } from './goals.ts';
import { type BenchResults, renderTables, updateReadme } from './readme.ts';

const BENCH = path.join(REPO_ROOT, 'bench');

function main(): number {
  const arg = process.argv[2];
  if (!arg) throw new UsageError('usage: npm run bench:render -- bench/results/<timestamp>.json');
  const file = path.resolve(arg);
  let results: BenchResults & { quick?: boolean; goals?: unknown };
  try {
    results = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${arg}: not a readable bench result file (${errorMessage(err)})`);
  }
  if (results.quick || results.command !== 'npm run bench')
    throw new UsageError(
      `${arg}: made by \`${results.command}\`${results.quick ? ' (quick)' : ''}; only a full \`npm run bench\` run rewrites the README's tables`,
    );
  const goals = goalsOf(results);
  const withGoals = { ...results, goals };
  fs.writeFileSync(file, JSON.stringify(withGoals, null, 2) + '\n');
  const latest = path.join(BENCH, 'results', 'latest.json');
  if (fs.existsSync(latest) && JSON.parse(fs.readFileSync(latest, 'utf8')).startedAt === results.startedAt)
    fs.writeFileSync(latest, JSON.stringify(withGoals, null, 2) + '\n');
  updateReadme(path.join(BENCH, 'README.md'), renderTables(results), path.relative(BENCH, file));
  process.stdout.write(
    `bench/README.md tables rendered from ${path.relative(process.cwd(), file)}; goals met: ${goals.filter((g) => g.met).length} of ${goals.length}\n`,
  );
  return goals.every((g) => g.met) && results.allValid ? ExitCode.Compliant : ExitCode.Violations;
}

try {
  process.exit(main());
} catch (err) {
  process.stderr.write(`bench:render: ${errorMessage(err)}\n`);
  process.exit(err instanceof UsageError ? ExitCode.Usage : ExitCode.HarnessFailure);
}
