/**
 * driftless command line. Every failure ends with one clear line and a documented exit code:
 * 0 compliant, 1 violations found, 2 configuration or usage error, 3 the harness itself failed.
 */
import { parseArgs } from 'node:util';
import { DriftlessError, ExitCode, errorMessage } from '../core/errors.ts';

export const HELP = `driftless — chaos and immutability compliance harness

Usage: driftless <command> [options]

Commands:
  lab up [--port-base N]     build and start the local lab fleets (cattle, snowflake, sticky) on Docker
  lab deploy                 roll a newly built release out to the lab (cattle replaced, snowflake patched)
  lab down                   remove every lab container (and nothing else)
  lab status                 table of lab hosts: id, fleet, image digest, ports, health
  inventory [--config f]     list the configured fleets' hosts, digests and SSH addresses
  validate [file]            check a driftless.config.yaml against the schema; touches no target
  run [--config file] [--suite s]... [--seed N] [--run-id ID --shard i/n] [--results-dir d] [--before snap]
                             plan every owed check, run the suites against the configured fleets
                             (suites: ssh-edits, image-integrity, chaos, deploy)
  snapshot -o before.json [--config f]
                             record the fleets now, for run --suite deploy --before before.json
  report [--results d]... [--single-file] [--config f | --signing-key pem]
                             build the Allure report (shards merged, history carried), reports/verdict.json
                             and the report's signed evidence bundle
  manifest <image|dir> -o f  write the golden file manifest of an image or a rootfs directory
  verify <dir> [--key pem | --config f]
                             check a results folder's or report's signed evidence bundle: names any
                             file added, removed or changed (0 intact, 1 changed, 2 no bundle/key, 3 unsigned)
  help                       this text

Exit codes: 0 compliant (every owed check ran and passed), 1 violations found, 2 configuration or
usage error (nothing touched), 3 not fully checked (something owed was not checked, or the harness failed).
Environment: DRIFTLESS_LAB_PORT_BASE (lab ports, default 21000), DRIFTLESS_LAB_DIR (lab state),
DOCKER_HOST (engine).
`;

type Command = (argv: string[]) => Promise<number>;

// Loaded on use: a run against SSH hosts never pays for the Docker client, the lab or the report.
const commands: Record<string, () => Promise<Command>> = {
  inventory: async () => (await import('./inventory.ts')).inventoryCommand,
  lab: async () => (await import('./lab.ts')).labCommand,
  report: async () => (await import('./report.ts')).reportCommand,
  run: async () => (await import('./run.ts')).runCommand,
  manifest: async () => (await import('./manifest.ts')).manifestCommand,
  validate: async () => (await import('./validate.ts')).validateCommand,
  snapshot: async () => (await import('./snapshot.ts')).snapshotCommand,
  verify: async () => (await import('./verify.ts')).verifyCommand,
};

export async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, strict: false, options: { help: { type: 'boolean', short: 'h' } } });
  const [name] = positionals;
  if (!name || name === 'help' || (values.help && !name)) {
    process.stdout.write(HELP);
    return ExitCode.Compliant;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`driftless: unknown command "${name}"; run \`driftless --help\` for the list\n`);
    return ExitCode.Usage;
  }
  return (await cmd())(argv.slice(argv.indexOf(name) + 1));
}

const isEntry = process.argv[1] && /(?:cli[\\/]main\.ts|driftless(?:\.js)?)$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof DriftlessError) {
        process.stderr.write(
          err.message
            .split('\n')
            .map((l) => `driftless: ${l}`)
            .join('\n') + '\n',
        );
        process.exit(err.exitCode);
      }
      // node:util parseArgs: an unknown or malformed flag is a usage error, not a crash.
      const code = (err as { code?: string })?.code;
      if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write(`driftless: ${errorMessage(err)}; run \`driftless --help\`\n`);
        process.exit(ExitCode.Usage);
      }
      process.stderr.write(`driftless: internal error: ${errorMessage(err)}\n${(err as Error)?.stack ?? ''}\n`);
      process.exit(ExitCode.HarnessFailure);
    },
  );
}
