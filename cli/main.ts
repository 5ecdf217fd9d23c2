/**
 * driftless command line. Every failure ends with one clear line and a documented exit code:
 * 0 compliant, 1 violations found, 2 configuration or usage error, 3 not fully checked (or the
 * harness itself failed). Options and help come from one declaration per command (commands.ts).
 */
import { parseArgs } from 'node:util';
import { DriftlessError, ExitCode, errorMessage, UsageError } from '../core/errors.ts';
import { type CommandSpec, commandHelp, commandSpec, overviewHelp } from './commands.ts';
import type { Command, Parsed } from './parsed.ts';

// Loaded on use: a run against SSH hosts never pays for the Docker client, the lab or the report.
const commands: Record<string, () => Promise<Command>> = {
  inventory: async () => (await import('./inventory.ts')).inventoryCommand,
  checks: async () => (await import('./checks.ts')).checksCommand,
  lab: async () => (await import('./lab.ts')).labCommand,
  report: async () => (await import('./report.ts')).reportCommand,
  run: async () => (await import('./run.ts')).runCommand,
  manifest: async () => (await import('./manifest.ts')).manifestCommand,
  'plan-check': async () => (await import('./plan-check.ts')).planCheckCommand,
  validate: async () => (await import('./validate.ts')).validateCommand,
  snapshot: async () => (await import('./snapshot.ts')).snapshotCommand,
  verify: async () => (await import('./verify.ts')).verifyCommand,
};

/** Parses a command's arguments by its declaration: an unknown or malformed option is a usage error naming the help. */
export function parseCommand(spec: CommandSpec, argv: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: !!spec.positionals,
      strict: true,
      options: Object.fromEntries(
        Object.entries(spec.options).map(([n, o]) => [n, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
      ),
    });
  } catch (err) {
    throw new UsageError(`${spec.name}: ${errorMessage(err).split('. ')[0]}; run \`driftless ${spec.name} --help\` for its options`);
  }
  const n = parsed.positionals.length;
  const want = spec.positionals ?? { min: 0, max: 0 };
  if (n < want.min || n > want.max) {
    const words = ['no', 'one', 'two'];
    const count = (k: number) => `${words[k] ?? k} argument${k === 1 ? '' : 's'}`;
    const expected =
      want.min === want.max ? `exactly ${count(want.min)}` : want.min === 0 ? `at most ${count(want.max)}` : `${want.min} to ${want.max} arguments`;
    throw new UsageError(
      `${spec.name} takes ${expected}${spec.args ? ` (${spec.args})` : ''}, got ${n}${n ? `: ${parsed.positionals.join(' ')}` : ''}; run \`driftless ${spec.name} --help\``,
    );
  }
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(overviewHelp());
    return ExitCode.Compliant;
  }
  const spec = commandSpec(name);
  const load = commands[name];
  if (!spec || !load) {
    process.stderr.write(`driftless: unknown command "${name}"; run \`driftless --help\` for the list\n`);
    return ExitCode.Usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(spec));
    return ExitCode.Compliant;
  }
  return (await load())(parseCommand(spec, rest));
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
      // Not a finding, not the user's mistake: driftless itself crashed. Exit 3, and say so.
      process.stderr.write(
        `driftless: internal error (a bug of driftless; the run is not fully checked): ${errorMessage(err)}\n${(err as Error)?.stack ?? ''}\n`,
      );
      process.exit(ExitCode.HarnessFailure);
    },
  );
}
