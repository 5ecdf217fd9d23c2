/**
 * What the schema cannot see: files that must exist, environment variables that must be set,
 * names that must be unique or must refer to something. Messages name variables, never values.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BASELINE_MS, longestLoadSeconds, MAX_LOAD_SECONDS, MIN_REQUESTS_PER_KILL, mostKills } from '../core/chaos-rules.ts';
import type { ChaosConfig, Ec2Target, PlanFile, Release, SshAuth, Target } from '../core/config.ts';
import type { ProvenancePolicy } from '../core/config.generated.ts';
import { CONTROLS, control, isControlId } from '../core/controls.ts';
import { PRODUCTION_LIKE } from '../core/environments.ts';
import { parseTrustedKey } from '../core/public-key.ts';
import type { Ctx } from './context.ts';
import { problem } from './errors.ts';
import { resolveLocal, unreadableFile } from './paths.ts';

const isSet = (env: NodeJS.ProcessEnv, name: string) => (env[name] ?? '') !== '';

/** Where the AWS SDK's default chain would find credentials, without asking any server. */
export const AWS_CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
] as const;

export function awsCredentialsAvailable(env: NodeJS.ProcessEnv, home: string): boolean {
  if (AWS_CREDENTIAL_ENV.some((n) => isSet(env, n))) return true;
  const file = env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, '.aws', 'credentials');
  return fs.existsSync(file);
}

/** Checks an ssh block and returns it with its files made absolute. */
function checkSsh(ssh: SshAuth, at: string, ctx: Ctx): SshAuth {
  const out: SshAuth = { ...ssh };
  const files = [
    ['identityFile', 'identity file'],
    ['knownHostsFile', 'known_hosts file'],
  ] as const;
  for (const [key, what] of files) {
    const written = ssh[key];
    if (!written) continue;
    const abs = resolveLocal(written, ctx.baseDir, ctx.home);
    const why = unreadableFile(what, written, abs);
    if (why) ctx.problems.push(problem(ctx.display, `${at}/${key}`, why));
    out[key] = abs;
  }
  if (ssh.passphraseEnv && !isSet(ctx.env, ssh.passphraseEnv)) {
    ctx.problems.push(
      problem(
        ctx.display,
        `${at}/passphraseEnv`,
        `environment variable ${ssh.passphraseEnv} is not set: export it with the key's passphrase, or remove passphraseEnv if the key has none`,
      ),
    );
  }
  if (ssh.agent && !ssh.identityFile && !isSet(ctx.env, 'SSH_AUTH_SOCK')) {
    ctx.problems.push(
      problem(ctx.display, `${at}/agent`, 'SSH_AUTH_SOCK is not set: start an agent (eval "$(ssh-agent)"; ssh-add <key>), or set identityFile'),
    );
  }
  return out;
}

function checkEc2(t: Ec2Target, at: string, ctx: Ctx): void {
  const creds = t.ec2.credentials;
  if (!creds) {
    if (!awsCredentialsAvailable(ctx.env, ctx.home)) {
      ctx.problems.push(
        problem(
          ctx.display,
          `${at}/ec2/credentials`,
          'no AWS credentials available: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or name env vars in credentials',
        ),
      );
    }
    return;
  }
  for (const key of ['accessKeyIdEnv', 'secretAccessKeyEnv', 'sessionTokenEnv'] as const) {
    const name = creds[key];
    if (name && !isSet(ctx.env, name)) {
      ctx.problems.push(problem(ctx.display, `${at}/ec2/credentials/${key}`, `environment variable ${name} is not set`));
    }
  }
}

/** Checks every target and returns them with local paths absolute. */
export function checkTargets(targets: Target[], ctx: Ctx): Target[] {
  const firstByName = new Map<string, number>();
  return targets.map((t, i) => {
    const at = `/targets/${i}`;
    const first = firstByName.get(t.name);
    if (first === undefined) firstByName.set(t.name, i);
    else {
      ctx.problems.push(problem(ctx.display, `${at}/name`, `duplicate target name "${t.name}" (also /targets/${first}/name): target names must be unique`));
    }
    const out = { ...t } as Target;
    if (t.ssh) out.ssh = checkSsh(t.ssh, `${at}/ssh`, ctx);
    if (out.provider === 'docker' && out.docker.socketPath) {
      out.docker = { ...out.docker, socketPath: resolveLocal(out.docker.socketPath, ctx.baseDir, ctx.home) };
    }
    if (out.provider === 'docker' && out.docker.eventLog) {
      const written = out.docker.eventLog;
      const abs = resolveLocal(written, ctx.baseDir, ctx.home);
      const why = unreadableFile('engine event log', written, abs);
      if (why) ctx.problems.push(problem(ctx.display, `${at}/docker/eventLog`, why));
      out.docker = { ...out.docker, eventLog: abs };
    }
    if (t.provider === 'ec2') checkEc2(t, at, ctx);
    if (t.provider === 'ssh') {
      const seen = new Map<string, number>();
      t.hosts.forEach((h, j) => {
        const prev = seen.get(h.id);
        if (prev === undefined) seen.set(h.id, j);
        else {
          ctx.problems.push(problem(ctx.display, `${at}/hosts/${j}/id`, `duplicate host id "${h.id}" (also ${at}/hosts/${prev}/id): host ids must be unique`));
        }
      });
    }
    return out;
  });
}

/** Every service a target or static host names must be in the (merged) release. */
export function checkServices(targets: Target[], release: Release, ctx: Ctx): void {
  const known = Object.keys(release.services);
  const listed = known.length ? known.join(', ') : 'none';
  const check = (service: string | undefined, at: string) => {
    if (service !== undefined && !Object.hasOwn(release.services, service)) {
      ctx.problems.push(problem(ctx.display, at, `service "${service}" is not in the release (release services: ${listed})`));
    }
  };
  targets.forEach((t, i) => {
    check(t.service, `/targets/${i}/service`);
    if (t.provider === 'ssh') t.hosts.forEach((h, j) => check(h.service, `/targets/${i}/hosts/${j}/service`));
  });
}

/**
 * Every control a config names must be one driftless has (a typo must not switch a check off
 * unnoticed). A team's own id (not DL-) is checked once its check files are loaded (engine/run.ts).
 */
export function checkControls(disabled: Array<{ control: string }>, ctx: Ctx, hasChecks = false): void {
  const seen = new Map<string, number>();
  disabled.forEach((d, i) => {
    const at = `/policy/disabledControls/${i}/control`;
    if (!d.control.startsWith('DL-') && !hasChecks)
      ctx.problems.push(problem(ctx.display, at, `unknown control "${d.control}": no check files are configured (\`checks\`) to declare it`));
    else if (d.control.startsWith('DL-') && !isControlId(d.control))
      ctx.problems.push(
        problem(ctx.display, at, `unknown control "${d.control}": the controls are ${CONTROLS.map((c) => c.id).join(', ')} (docs/controls.md)`),
      );
    else if (seen.has(d.control))
      ctx.problems.push(problem(ctx.display, at, `control ${d.control} is listed twice (also /policy/disabledControls/${seen.get(d.control)}/control)`));
    seen.set(d.control, i);
  });
}

/** Listing a production-like environment in allowedEnvironments is not enough on its own. */
export function checkProduction(safety: { allowedEnvironments: string[]; allowProduction: boolean }, ctx: Ctx): void {
  if (safety.allowProduction) return;
  safety.allowedEnvironments.forEach((env, i) => {
    if (PRODUCTION_LIKE.test(env)) {
      ctx.problems.push(
        problem(
          ctx.display,
          `/safety/allowedEnvironments/${i}`,
          `"${env}" looks like a production environment: chaos there also needs safety.allowProduction: true (a second, explicit switch)`,
        ),
      );
    }
  });
}

/** The evidence signing key must be a readable Ed25519 private key; returns its absolute path. */
export function checkSigningKey(written: string, ctx: Ctx): string {
  const abs = resolveLocal(written, ctx.baseDir, ctx.home);
  const why = unreadableFile('signing key', written, abs);
  if (why) {
    ctx.problems.push(problem(ctx.display, '/report/signingKey', why));
    return abs;
  }
  try {
    const key = createPrivateKey(fs.readFileSync(abs, 'utf8'));
    if (key.asymmetricKeyType !== 'ed25519')
      ctx.problems.push(
        problem(
          ctx.display,
          '/report/signingKey',
          `${written} is a ${key.asymmetricKeyType} key: the evidence is signed with Ed25519 (openssl genpkey -algorithm ed25519 -out key.pem)`,
        ),
      );
  } catch {
    ctx.problems.push(
      problem(ctx.display, '/report/signingKey', `${written} is not a private key in PEM: make one with openssl genpkey -algorithm ed25519 -out key.pem`),
    );
  }
  return abs;
}

/** The key `driftless verify` trusts must be a readable Ed25519 PUBLIC key; returns its absolute path. */
export function checkVerifyKey(written: string, ctx: Ctx): string {
  const abs = resolveLocal(written, ctx.baseDir, ctx.home);
  const why = unreadableFile('verify key', written, abs) ?? whyNotTrusted(abs, written);
  if (why) ctx.problems.push(problem(ctx.display, '/report/verifyKey', why));
  return abs;
}

function whyNotTrusted(abs: string, written: string): string | undefined {
  const parsed = parseTrustedKey(fs.readFileSync(abs, 'utf8'), written);
  return 'why' in parsed ? parsed.why : undefined;
}

/** Every fleet a deploy names must be a target. */
export function checkDeployFleets(fleets: string[] | undefined, targets: Target[], ctx: Ctx): void {
  (fleets ?? []).forEach((f, i) => {
    if (!targets.some((t) => t.name === f))
      ctx.problems.push(problem(ctx.display, `/deploy/fleets/${i}`, `no target is named "${f}": the targets are ${targets.map((t) => t.name).join(', ')}`));
  });
}

/**
 * The chaos load runs until the last kill's recovery is judged: refused when that can never stay
 * within MAX_LOAD_SECONDS, or never put 10 measured requests per kill in the chaos window.
 */
export function checkChaosLoad(chaos: ChaosConfig, maxKills: number, ctx: Ctx): void {
  const most = mostKills(chaos, maxKills);
  const longest = longestLoadSeconds(chaos, most);
  if (longest > MAX_LOAD_SECONDS) {
    const at = most > 1 && (most - 1) * chaos.killIntervalSeconds > chaos.slo.recoverySeconds ? '/chaos/killIntervalSeconds' : '/chaos/slo/recoverySeconds';
    const terms = `${BASELINE_MS / 1000} s before the first kill + ${most - 1} × chaos.killIntervalSeconds ${chaos.killIntervalSeconds} s + chaos.slo.recoverySeconds ${chaos.slo.recoverySeconds} s`;
    ctx.problems.push(
      problem(
        ctx.display,
        at,
        `the chaos load runs until the last of ${most} kill(s) has recovered: ${terms} = ${longest} s, over the ${MAX_LOAD_SECONDS} s a load may last; lower chaos.slo.recoverySeconds, chaos.killIntervalSeconds or the kills (chaos.kill.count, safety.maxKills)`,
      ),
    );
    return;
  }
  // The chaos window runs from the first kill to the end of the load; at its longest it must still
  // hold enough. Under a percent the fleet decides the kills: one is the case that must work.
  const kills = chaos.kill.count !== undefined ? most : 1;
  const windowSeconds = longestLoadSeconds(chaos, kills) - BASELINE_MS / 1000;
  const best = Math.floor(chaos.load.rate * windowSeconds);
  const needed = MIN_REQUESTS_PER_KILL * kills;
  if (best < needed) {
    ctx.problems.push(
      problem(
        ctx.display,
        '/chaos/load/rate',
        `at ${chaos.load.rate} req/s the chaos window holds at most ${best} requests (${windowSeconds} s from the first kill) for ${kills} kill(s): DL-CHAOS-004 needs ${MIN_REQUESTS_PER_KILL} per kill (${needed}); raise chaos.load.rate or chaos.load.durationSeconds`,
      ),
    );
  }
}

/**
 * policy.provenance: every key a readable PUBLIC key (a private one never belongs in a config),
 * the bundles directory a directory; and every service the targets run must have a source
 * declared, or DL-IMG-020 would have nothing to compare the attestation with. Paths made absolute.
 */
export function checkProvenance(p: ProvenancePolicy, targets: Target[], release: Release, releaseComplete: boolean, ctx: Ctx): ProvenancePolicy {
  const keys = p.keys.map((written, i) => {
    const at = `/policy/provenance/keys/${i}`;
    const abs = resolveLocal(written, ctx.baseDir, ctx.home);
    const why = unreadableFile('public key', written, abs);
    if (why) {
      ctx.problems.push(problem(ctx.display, at, why));
      return abs;
    }
    const pem = fs.readFileSync(abs, 'utf8');
    if (/PRIVATE KEY/.test(pem)) {
      // Named by path only: the key itself is never repeated.
      ctx.problems.push(
        problem(ctx.display, at, `${written} is a private key: name its public half (cosign.pub, or openssl pkey -in key.pem -pubout -out key.pub.pem)`),
      );
      return abs;
    }
    try {
      createPublicKey(pem);
    } catch {
      ctx.problems.push(problem(ctx.display, at, `${written} is not a public key in PEM (-----BEGIN PUBLIC KEY-----): cosign.pub, or openssl pkey -pubout`));
    }
    return abs;
  });
  let bundles: string | undefined;
  if (p.bundles) {
    bundles = resolveLocal(p.bundles, ctx.baseDir, ctx.home);
    let dir = false;
    try {
      dir = fs.statSync(bundles).isDirectory();
    } catch {
      // said below
    }
    if (!dir)
      ctx.problems.push(
        problem(ctx.display, '/policy/provenance/bundles', `${p.bundles} is not a directory${bundles === p.bundles ? '' : ` (resolved to ${bundles})`}`),
      );
  }
  if (releaseComplete && !release.source) {
    // only the kinds DL-IMG-020 is owed by (SSH hosts run no image it can name)
    const owing = control('DL-IMG-020').providers ?? [];
    const services = [...new Set(targets.filter((t) => owing.includes(t.provider)).map((t) => t.service))];
    for (const s of services) {
      if (s !== undefined && release.services[s] && !release.services[s].source)
        ctx.problems.push(
          problem(
            ctx.display,
            '/release',
            `service "${s}" declares no source (release.services.${s}.source, or release.source for all): policy.provenance needs the source each image must have been built from`,
          ),
        );
    }
  }
  return { ...p, keys, ...(bundles ? { bundles } : {}) };
}

/**
 * The plan files the plan suite gates (plan.files, or the command line's): readable, each once.
 * Each becomes a fleet of the verdict named by its path relative to the working directory, so a
 * name a target already has is refused. Their contents are the suite's to check (before anything
 * is touched: audits/plan/plan-suite.ts).
 */
export function checkPlanFiles(written: readonly string[], ctx: Ctx, targets: Target[], from: 'config' | 'command line'): PlanFile[] {
  const seen = new Map<string, number>();
  const out: PlanFile[] = [];
  written.forEach((w, i) => {
    const at = `/plan/files/${i}`;
    const abs = resolveLocal(w, ctx.baseDir, ctx.home);
    const name = path.relative(process.cwd(), abs).split(path.sep).join('/') || path.basename(abs);
    const report = (message: string) =>
      ctx.problems.push(from === 'config' ? problem(ctx.display, at, message) : { file: w, pointer: '', message, text: `${w}: ${message}` });
    const why = unreadableFile('plan file', w, abs);
    if (why) return report(why);
    const prev = seen.get(abs);
    if (prev !== undefined)
      return report(`${w} is named twice (also ${from === 'config' ? `/plan/files/${prev}` : `argument ${prev + 1}`}): each plan is gated once`);
    seen.set(abs, i);
    if (targets.some((t) => t.name === name))
      return report(`a target is also named "${name}": a plan file is a fleet of the verdict, named by its path; rename the target or move the file`);
    out.push({ name, file: abs });
  });
  return out;
}
