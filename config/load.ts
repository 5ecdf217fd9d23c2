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
import type { Config } from '../core/config.ts';

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
  const validate = validators().config;
  if (!validate(data)) throw new ConfigError(translateErrors(display, validate.errors ?? []));
  const raw = data as Omit<Config, 'source'>;

  const ctx: Ctx = {
    display,
    baseDir: path.dirname(abs),
    env: opts.env ?? process.env,
    home: opts.homeDir ?? os.homedir(),
    problems: [] as ConfigProblem[],
  };
  const targets = checkTargets(raw.targets, ctx);
  const { release, complete } = mergeRelease(raw.release, ctx);
  if (complete) {
    if (Object.keys(release.services).length === 0) {
      ctx.problems.push(problem(display, '/release', 'declares no services: list them under release.services, or point release.file at a release file'));
    }
    checkServices(targets, release, ctx); // only against a complete release, or every service would look missing
  }
  checkControls(raw.policy.disabledControls, ctx);
  checkDeployFleets(raw.deploy?.fleets, targets, ctx);
  const waiverList = readWaivers(raw.waivers, ctx);
  const report = raw.report && {
    ...raw.report,
    ...(raw.report.signingKey ? { signingKey: checkSigningKey(raw.report.signingKey, ctx) } : {}),
    ...(raw.report.verifyKey ? { verifyKey: checkVerifyKey(raw.report.verifyKey, ctx) } : {}),
  };
  checkProduction(raw.safety, ctx);
  checkChaosLoad(raw.chaos, raw.safety.maxKills, ctx);
  const provenance = raw.policy.provenance && checkProvenance(raw.policy.provenance, targets, release, complete, ctx);
  if (ctx.problems.length) throw new ConfigError(ctx.problems);

  return {
    ...raw,
    ...(provenance ? { policy: { ...raw.policy, provenance } } : {}),
    targets,
    release,
    waiverList,
    ...(report ? { report } : {}),
    source: { file: abs, sha256: createHash('sha256').update(bytes).digest('hex') },
  };
}
