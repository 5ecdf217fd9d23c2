/**
 * driftless.config.yaml -> Config: parse, schema (with defaults), then the checks the schema
 * cannot make. Every problem found is reported at once in one ConfigError (exit code 2).
 * The result holds environment variable NAMES only; secrets are read where they are used.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../core/paths.ts';
import {
  checkChaosLoad,
  checkControls,
  checkDeployFleets,
  checkPlanFiles,
  checkProduction,
  checkProvenance,
  checkServices,
  checkSigningKey,
  checkTargets,
  checkVerifyKey,
} from './checks.ts';
import type { Ctx } from './context.ts';
import { ConfigError, type ConfigProblem, problem } from './errors.ts';
import { translateErrors } from './messages.ts';
import { parseText, readFileBytes } from './parse.ts';
import { mergeRelease } from './release.ts';
import { validators } from './schema.ts';
import { readWaivers } from './waivers.ts';
import { BUILT_IN_CONFIG, type Config } from '../core/config.ts';
import type { ConfigFile } from '../core/config.generated.ts';

export { ConfigError } from './errors.ts';

/** The lab config: what `driftless validate` and `driftless run` use when given no file. */
export const DEFAULT_CONFIG_NAME = 'driftless.config.yaml';
export const DEFAULT_CONFIG = path.join(REPO_ROOT, DEFAULT_CONFIG_NAME);

export interface LoadOptions {
  /** Environment consulted for *Env names and AWS credentials; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Home directory for ~/ paths and ~/.aws/credentials; default os.homedir(). */
  homeDir?: string;
  /** Name used in messages; default `file` as given. */
  displayName?: string;
  /**
   * Plan files named on the command line (`driftless plan-check`), relative to the working
   * directory: they replace plan.files, and give the config a plan section if it has none.
   */
  planFiles?: string[];
}

/** Loads and validates a config file (default: the lab config at the repo root). */
export function loadConfig(file?: string, opts: LoadOptions = {}): Config {
  const abs = path.resolve(file ?? DEFAULT_CONFIG);
  const display = opts.displayName ?? file ?? DEFAULT_CONFIG_NAME;
  return validateConfigText(readFileBytes(abs, display), abs, { ...opts, displayName: display });
}

/**
 * Validates config text as if it were read from `file` (which decides JSON or YAML, and is the
 * base for relative paths). Throws ConfigError listing every problem.
 */
export function validateConfigText(text: string | Buffer, file: string, opts: LoadOptions = {}): Config {
  const abs = path.resolve(file);
  const display = opts.displayName ?? file;
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const data = parseText(bytes.toString('utf8'), display);
  if (data === null || data === undefined) {
    throw new ConfigError([problem(display, '', 'the file is empty: start from examples/driftless.config.example.yaml')]);
  }
  return validateData(data, { file: abs, sha256: createHash('sha256').update(bytes).digest('hex') }, { ...opts, displayName: display });
}

/**
 * The config `driftless plan-check` uses without --config: the built-in defaults with the plan
 * files it was given, validated exactly as a file would be (schema defaults, file checks). Its
 * source is BUILT_IN_CONFIG with the sha256 of its JSON.
 */
export function builtInConfig(planFiles: string[], opts: Omit<LoadOptions, 'planFiles' | 'displayName'> = {}): Config {
  const data = { version: 1, plan: {} };
  const sha256 = createHash('sha256').update(JSON.stringify(data)).digest('hex');
  return validateData(data, { file: BUILT_IN_CONFIG, sha256 }, { ...opts, planFiles, displayName: BUILT_IN_CONFIG });
}

function validateData(data: unknown, source: Config['source'], opts: LoadOptions & { displayName: string }): Config {
  const display = opts.displayName;
  if (opts.planFiles && data && typeof data === 'object' && !Array.isArray(data)) {
    // The command line's plan files stand in for plan.files (checked below, against the working directory).
    const d = data as { plan?: Record<string, unknown> };
    const { files: _written, ...policy } = d.plan ?? {};
    d.plan = policy;
  }
  const validate = validators().config;
  if (!validate(data)) throw new ConfigError(translateErrors(display, validate.errors ?? []));
  const raw = data as ConfigFile;

  const ctx: Ctx = {
    display,
    baseDir: source.file === BUILT_IN_CONFIG ? process.cwd() : path.dirname(source.file),
    env: opts.env ?? process.env,
    home: opts.homeDir ?? os.homedir(),
    problems: [] as ConfigProblem[],
  };
  const targets = checkTargets(raw.targets ?? [], ctx);
  // Without targets (a config that only gates plans) the release may be left out: nothing runs it.
  const { release, complete } = raw.release ? mergeRelease(raw.release, ctx) : { release: { services: {} }, complete: false };
  if (complete) {
    if (Object.keys(release.services).length === 0) {
      ctx.problems.push(problem(display, '/release', 'declares no services: list them under release.services, or point release.file at a release file'));
    }
    checkServices(targets, release, ctx); // only against a complete release, or every service would look missing
  }
  checkControls(raw.policy.disabledControls, ctx, !!raw.checks?.length);
  checkDeployFleets(raw.deploy?.fleets, targets, ctx);
  const waiverList = readWaivers(raw.waivers, ctx, !!raw.checks?.length);
  const report = raw.report && {
    ...raw.report,
    ...(raw.report.signingKey ? { signingKey: checkSigningKey(raw.report.signingKey, ctx) } : {}),
    ...(raw.report.verifyKey ? { verifyKey: checkVerifyKey(raw.report.verifyKey, ctx) } : {}),
  };
  checkProduction(raw.safety, ctx);
  checkChaosLoad(raw.chaos, raw.safety.maxKills, ctx);
  const provenance = raw.policy.provenance && checkProvenance(raw.policy.provenance, targets, release, complete, ctx);
  const planFiles = opts.planFiles
    ? checkPlanFiles(opts.planFiles, { ...ctx, baseDir: process.cwd() }, targets, 'command line')
    : checkPlanFiles(raw.plan?.files ?? [], ctx, targets, 'config');
  if (ctx.problems.length) throw new ConfigError(ctx.problems);

  return {
    ...raw,
    ...(provenance ? { policy: { ...raw.policy, provenance } } : {}),
    targets,
    release,
    waiverList,
    planFiles,
    ...(report ? { report } : {}),
    source,
  };
}
