/**
 * Secrets never reach a report: every attachment and message passes through `redact`, which
 * removes private key blocks and the values of the environment variables the config names as
 * secrets (passphrases, AWS keys, and every variable handed to the deploy command, deploy.env).
 */
import type { Config } from './config.ts';

const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g;

/** Values of environment variables the config names as secrets (passphrases, AWS keys, what deploy.env passes to the deploy). */
export function secretValues(config: Config, env: NodeJS.ProcessEnv = process.env): string[] {
  const names = new Set<string>(['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'DRIFTLESS_SECRET']);
  // The deploy command sees these, so it can echo them: each is taken for a secret.
  for (const n of config.deploy?.env ?? []) names.add(n);
  for (const t of config.targets) {
    if (t.ssh?.passphraseEnv) names.add(t.ssh.passphraseEnv);
    if (t.provider === 'ec2') {
      const c = t.ec2.credentials;
      for (const n of [c?.accessKeyIdEnv, c?.secretAccessKeyEnv, c?.sessionTokenEnv]) if (n) names.add(n);
    }
  }
  return [...names].map((n) => env[n]).filter((v): v is string => !!v && v.length >= 4);
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text.replace(PRIVATE_KEY, '[private key redacted]');
  for (const s of secrets) out = out.split(s).join('[secret redacted]');
  return out;
}
