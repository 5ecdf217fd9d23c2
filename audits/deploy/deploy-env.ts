/**
 * The environment the deploy command runs with: what a program needs to run (PATH, HOME, the
 * locale, TMPDIR), the engine's address when set (a deploy that talks to Docker needs it), and
 * only the variables the config names in deploy.env. Nothing else of driftless's environment
 * (cloud credentials, tokens, passphrases it was given for its own use) reaches the command, so
 * the command cannot echo it into the evidence. What deploy.env passes is redacted as a secret
 * (core/redact.ts).
 */
const ALWAYS = new Set(['PATH', 'HOME', 'LANG', 'TMPDIR', 'DOCKER_HOST']);

export function deployEnv(listed: readonly string[], from: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const pass = new Set(listed);
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined) continue;
    if (ALWAYS.has(name) || name.startsWith('LC_') || pass.has(name)) out[name] = value;
  }
  return out;
}
