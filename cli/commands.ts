/**
 * Every command's options, declared once: the parser (node:util parseArgs) and the help
 * (`driftless <command> --help`, and the overview of `driftless --help`) are both made from these
 * declarations, so the help cannot forget an option. Loading this file loads no command.
 */
import { SUITES } from '../core/suites.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in the help (string options). */
  arg?: string;
  help: string;
}

export interface CommandSpec {
  name: string;
  /** Positional arguments, as the usage line shows them. */
  args?: string;
  /** One line for the overview. */
  summary: string;
  /** More lines for `driftless <command> --help`. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** How many positionals it takes (default none). */
  positionals?: { min: number; max: number };
}

const config: OptionSpec = { type: 'string', short: 'c', arg: 'file', help: 'the config (default driftless.config.yaml in the current directory)' };
const output: OptionSpec = {
  type: 'string',
  arg: 'junit,sarif,oscal,summary',
  help: 'the outputs to write under outputs/ (comma-separated, or none; default report.outputs, else all)',
};
const baseline: OptionSpec = {
  type: 'string',
  arg: 'verdict.json',
  help: 'compare with this earlier verdict: new, fixed, still failing, newly broken (default the previous verdict in the output folder)',
};

export const COMMANDS: CommandSpec[] = [
  {
    name: 'lab',
    args: 'up | down | status | deploy',
    summary: 'the local lab fleets on Docker: up builds and starts them, deploy rolls out a new release, down removes them, status lists them',
    options: { 'port-base': { type: 'string', arg: 'N', help: 'first of the lab ports (default 21000, or DRIFTLESS_LAB_PORT_BASE)' } },
    positionals: { min: 1, max: 1 },
  },
  {
    name: 'validate',
    args: '[file]',
    summary: 'check a config against the schema, its files and environment names; touches no target',
    options: {},
    positionals: { min: 0, max: 1 },
  },
  {
    name: 'inventory',
    summary: "list the configured fleets' hosts, digests and SSH addresses",
    options: {
      config,
      snapshot: { type: 'string', arg: 'file', help: 'also write the inventory as JSON to this file' },
      json: { type: 'boolean', help: 'print JSON instead of the table' },
    },
  },
  {
    name: 'run',
    summary: 'plan every owed check, run the suites against the configured fleets, write typed results, the verdict and the evidence',
    details:
      'Exit 0 compliant, 1 violations found, 2 configuration or usage error (nothing touched), 3 not fully checked.\n' +
      'The results folder holds the run record (driftless-run.json), the typed results (checks/<suite>.json), their evidence, the verdict\n' +
      'and the outputs (outputs/: junit.xml, driftless.sarif, oscal/, summary.md; the summary is appended to $GITHUB_STEP_SUMMARY when set).',
    options: {
      config,
      suite: { type: 'string', multiple: true, arg: 'name', help: `run only this suite: ${SUITES.join(', ')}` },
      seed: { type: 'string', arg: 'N', help: 'the seed of random choices (victims): replays a run; printed and recorded either way' },
      'run-id': { type: 'string', arg: 'ID', help: "the run's id (letters, digits, . _ -); every shard of one run carries the same" },
      shard: { type: 'string', arg: 'i/n', help: 'audit only shard i of n (hosts dealt round-robin); needs --run-id' },
      'results-dir': { type: 'string', arg: 'dir', help: 'the results folder (default driftless-output/results); emptied first, only if driftless made it' },
      before: { type: 'string', arg: 'snapshot.json', help: 'judge a deploy that ran elsewhere against this `driftless snapshot` (observed mode)' },
      output,
      baseline,
    },
  },
  {
    name: 'checks',
    args: 'list',
    summary: "list the team's own controls the config's check files declare (`checks`), with their scope, fleets and tests; loads the files, touches no target",
    options: { config },
    positionals: { min: 1, max: 1 },
  },
  {
    name: 'plan-check',
    args: '<plan.json>...',
    summary: 'the pre-release gate: judge Terraform/OpenTofu plans (or CloudFormation change sets) before anything is deployed; needs no fleet',
    details:
      'Each file is the JSON of a plan (terraform show -json plan.out > plan.json), never the binary plan. Compute must be replaced, not updated\n' +
      'in place; a new launch template must reach the running instances; no replacement may destroy state. Without --config the built-in\n' +
      'policy applies; with it, its plan section (compute, allowedInPlaceAttributes, stateful, acceptConditional) and waivers.\n' +
      'Exit 0 compliant (or the plan changes nothing, and says so), 1 violations found, 2 a plan that cannot be gated (named), 3 not fully checked.',
    options: {
      config: { ...config, help: 'a config whose plan section is the policy (its plan.files are replaced by the arguments); default: built-in defaults' },
      'run-id': { type: 'string', arg: 'ID', help: "the run's id (letters, digits, . _ -)" },
      'results-dir': { type: 'string', arg: 'dir', help: 'the results folder (default driftless-output/results); emptied first, only if driftless made it' },
    },
    positionals: { min: 1, max: 1000 },
  },
  {
    name: 'snapshot',
    summary: 'record the fleets now, for `run --suite deploy --before file`',
    options: { config, out: { type: 'string', short: 'o', arg: 'file', help: 'where to write the snapshot (required)' } },
  },
  {
    name: 'report',
    summary: 'merge results folders (shards, runs) into the verdict, the Allure report and its signed evidence bundle',
    details:
      "Exit codes are the verdict's: a sharded CI job gates on the merged result.\n" +
      'The report folder also holds the outputs (outputs/: junit.xml, driftless.sarif, oscal/, summary.md; the summary is appended to $GITHUB_STEP_SUMMARY when set).',
    options: {
      results: { type: 'string', multiple: true, arg: 'dir', help: 'a results folder (repeatable; default driftless-output/results)' },
      out: { type: 'string', arg: 'dir', help: 'the HTML report folder (default driftless-output/report); its history/ is carried over' },
      'single-file': { type: 'boolean', help: 'also write one HTML file that opens from disk, beside --out (report-single/index.html)' },
      allure: {
        type: 'string',
        arg: 'grouped|per-check',
        help: 'the Allure layout: grouped, the passed checks of each host and suite as one result (their evidence stays in the results folder), or per-check (default report.allure, else grouped)',
      },
      config,
      'signing-key': { type: 'string', arg: 'pem', help: "sign the report with this Ed25519 private key (default: the config's report.signingKey)" },
      output,
      baseline,
    },
  },
  {
    name: 'manifest',
    args: '<image | rootfs dir>',
    summary: 'write the golden file manifest of an image or a rootfs directory',
    options: {
      output: { type: 'string', short: 'o', arg: 'file', help: 'where to write the manifest (required)' },
      paths: { type: 'string', arg: 'a,b', help: 'the paths to list (comma-separated; default the built-in scope)' },
      excludes: { type: 'string', arg: 'c,d', help: 'paths to leave out (comma-separated)' },
    },
    positionals: { min: 1, max: 1 },
  },
  {
    name: 'verify',
    args: '<results or report dir>',
    summary: "check a results folder's or report's signed evidence bundle and name every file added, removed or changed",
    details:
      'Prints the kind, run id(s), time and key fingerprint it verified. Exit 0 intact and signed by the trusted key, 1 changed or signed by another key, 2 no bundle, no key or a private key, 3 unsigned.',
    options: {
      key: { type: 'string', arg: 'pem', help: "the Ed25519 public key to trust (SPKI PEM; default the config's report.verifyKey)" },
      config,
    },
    positionals: { min: 1, max: 1 },
  },
];

export function commandSpec(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

const usageOf = (c: CommandSpec) =>
  [c.name, c.args, ...Object.entries(c.options).map(([n, o]) => `[--${n}${o.type === 'string' ? ` ${o.arg ?? 'value'}` : ''}]${o.multiple ? '...' : ''}`)]
    .filter(Boolean)
    .join(' ');

export function commandHelp(c: CommandSpec): string {
  const lines = [`Usage: driftless ${usageOf(c)}`, '', c.summary + '.'];
  if (c.details) lines.push('', c.details);
  const opts: Array<[string, OptionSpec]> = [...Object.entries(c.options), ['help', { type: 'boolean', short: 'h', help: 'this text' }]];
  lines.push('', 'Options:');
  const left = opts.map(([n, o]) => `  ${o.short ? `-${o.short}, ` : '    '}--${n}${o.type === 'string' ? ` ${o.arg ?? 'value'}` : ''}`);
  const width = Math.max(...left.map((l) => l.length)) + 2;
  opts.forEach(([, o], i) => lines.push(`${left[i]!.padEnd(width)}${o.help}${o.multiple ? ' (repeatable)' : ''}`));
  return lines.join('\n') + '\n';
}

export function overviewHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    'driftless — chaos and immutability compliance harness',
    '',
    'Usage: driftless <command> [options]     driftless <command> --help for its options',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    `  ${'help'.padEnd(width)}this text`,
    '',
    'Exit codes: 0 compliant (every owed check ran and passed), 1 violations found, 2 configuration or',
    'usage error (nothing touched), 3 not fully checked (something owed was not checked, or the harness failed).',
    'Environment: DRIFTLESS_OUTPUT_DIR (output folder, default ./driftless-output), DRIFTLESS_LAB_PORT_BASE',
    '(lab ports, default 21000), DRIFTLESS_LAB_DIR (lab state), DOCKER_HOST (engine).',
    '',
  ].join('\n');
}
