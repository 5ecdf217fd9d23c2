/** `driftless checks list [--config file]`: the team's own controls, as the run will owe them. */
import path from 'node:path';
import { loadCustomControls } from '../audits/custom/custom-controls.ts';
import { loadConfig } from '../config/load.ts';
import { ExitCode, UsageError } from '../core/errors.ts';
import { type Parsed, str } from './parsed.ts';

export async function checksCommand(p: Parsed): Promise<number> {
  if (p.positionals[0] !== 'list') throw new UsageError(`checks needs a subcommand: list (got "${p.positionals[0]}")`);
  const config = loadConfig(str(p, 'config'));
  if (!config.checks?.length) {
    process.stdout.write(`${config.source.file}: no \`checks\` in the config: no controls of your own (README, "Writing your own checks")\n`);
    return ExitCode.Compliant;
  }
  const found = await loadCustomControls(config);
  const n = found.declared.reduce((k, f) => k + f.controls.length, 0);
  process.stdout.write(`${n} controls of your own in ${found.files.length} files:\n`);
  for (const f of found.declared) {
    for (const { declaration: d, tests } of f.controls) {
      process.stdout.write(
        `  ${d.id}  scope ${d.scope}${d.fleets ? `, fleets ${d.fleets}` : ''}, category ${d.category}, ${tests.length} test${tests.length === 1 ? '' : 's'}: ${d.title}  (${path.relative(process.cwd(), f.file)})\n`,
      );
      if (tests.length === 0) process.stdout.write(`    no test(): its checks will be broken (nothing checks it)\n`);
    }
  }
  return ExitCode.Compliant;
}
