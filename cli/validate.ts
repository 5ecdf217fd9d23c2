/** `driftless validate [file]`: checks a config (schema, files, env names, the plan files it gates) and touches no target. */
import type { Parsed } from './parsed.ts';
import { SUITE_MODULES } from '../audits/suites.ts';
import { DEFAULT_CONFIG_NAME, loadConfig } from '../config/load.ts';
import type { Config } from '../core/config.ts';
import { ConfigInvalidError, ExitCode } from '../core/errors.ts';
import { SUITES } from '../core/suites.ts';

export function summarize(display: string, config: Config): string {
  const parts: string[] = [];
  if (config.targets.length) {
    const targets = config.targets.map((t) => `${t.name} (${t.provider})`).join(', ');
    const services = Object.keys(config.release.services).join(', ');
    const n = config.targets.length;
    const name = config.release.name ? `${config.release.name}, ` : '';
    parts.push(`${n} target${n === 1 ? '' : 's'}: ${targets}; release: ${name}services ${services}`);
  }
  if (config.planFiles.length) parts.push(`plan files: ${config.planFiles.map((p) => p.name).join(', ')}`);
  return `${display}: valid (${parts.join('; ') || 'a plan policy for driftless plan-check'})`;
}

export async function validateCommand(p: Parsed): Promise<number> {
  const file = p.positionals[0];
  try {
    const config = loadConfig(file);
    // What the suites read themselves (a plan file's contents) is checked as the run would.
    for (const s of SUITES) SUITE_MODULES[s].check?.(config);
    process.stdout.write(summarize(file ?? DEFAULT_CONFIG_NAME, config) + '\n');
    return ExitCode.Compliant;
  } catch (err) {
    // Printed as is: one problem per line, each already naming the file.
    if (err instanceof ConfigInvalidError) {
      process.stderr.write(err.message + '\n');
      return err.exitCode;
    }
    throw err;
  }
}
