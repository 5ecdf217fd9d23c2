/** `driftless validate [file]`: checks a config (schema, files, env names) and touches no target. */
import type { Parsed } from './parsed.ts';
import { ExitCode } from '../core/errors.ts';
import { ConfigError, DEFAULT_CONFIG_NAME, loadConfig } from '../config/load.ts';
import type { Config } from '../core/config.ts';

export function summarize(display: string, config: Config): string {
  const targets = config.targets.map((t) => `${t.name} (${t.provider})`).join(', ');
  const services = Object.keys(config.release.services).join(', ');
  const n = config.targets.length;
  const name = config.release.name ? `${config.release.name}, ` : '';
  return `${display}: valid (${n} target${n === 1 ? '' : 's'}: ${targets}; release: ${name}services ${services})`;
}

export async function validateCommand(p: Parsed): Promise<number> {
  const file = p.positionals[0];
  try {
    const config = loadConfig(file);
    process.stdout.write(summarize(file ?? DEFAULT_CONFIG_NAME, config) + '\n');
    return ExitCode.Compliant;
  } catch (err) {
    // Printed as is: one problem per line, each already naming the file.
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      return err.exitCode;
    }
    throw err;
  }
}
