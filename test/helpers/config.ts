/** Shared by the config tests: a temp dir, an empty home, a writer and a valid config to vary. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { ConfigError, type LoadOptions, loadConfig } from '../../config/load.ts';

export const DIGEST_A = 'sha256:' + 'a'.repeat(64);
export const DIGEST_B = 'sha256:' + 'b'.repeat(64);
export const SECRET = 'hunter2-Correct-Horse-Battery-Staple';

export const tmp = { dir: '', home: '' }; // an empty home: no ~/.aws/credentials, no ~/.ssh
/** Every load sees only this environment unless a test says otherwise. */
export const opts = (env: NodeJS.ProcessEnv = {}): LoadOptions => ({ env, homeDir: tmp.home });

/** Call at the top of a test file: a fresh temp dir and home for it. */
export function useTempDirs(): void {
  before(() => {
    tmp.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-config-test-'));
    tmp.home = fs.mkdtempSync(path.join(os.tmpdir(), 'driftless-config-home-'));
    fs.mkdirSync(path.join(tmp.dir, 'keys'));
    fs.writeFileSync(path.join(tmp.dir, 'keys', 'id_ed25519'), 'not really a key\n', { mode: 0o600 });
    fs.writeFileSync(path.join(tmp.dir, 'keys', 'known_hosts'), '[127.0.0.1]:22 ssh-ed25519 AAAA\n');
  });
  after(() => {
    fs.rmSync(tmp.dir, { recursive: true, force: true });
    fs.rmSync(tmp.home, { recursive: true, force: true });
  });
}

let n = 0;
/** Writes `text` to a fresh file in the temp dir and returns its absolute path. */
export function write(text: string, ext = 'yaml'): string {
  const f = path.join(tmp.dir, `config-${++n}.${ext}`);
  fs.writeFileSync(f, text);
  return f;
}

/** The printed problem lines of a config that must be rejected. */
export function problems(file: string, o: LoadOptions = opts()): string[] {
  try {
    loadConfig(file, o);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, err.problems.map((p) => p.text).join('\n'));
    return err.problems.map((p) => p.text);
  }
  assert.fail(`${file} was accepted`);
}

/** A valid config around one target; tests replace pieces of it. */
export function config(parts: { targets?: string; release?: string; extra?: string } = {}): string {
  const targets =
    parts.targets ??
    `
  - name: web
    provider: docker
    service: web
    docker:
      labels: { app: web }`;
  const release = parts.release ?? `\n  services:\n    web: { digest: "${DIGEST_A}" }`;
  return `version: 1\ntargets:${targets}\nrelease:${release}\n${parts.extra ?? ''}`;
}

export const sshTarget = (ssh: string, hosts = `\n      - { id: h1, address: 127.0.0.1 }`) => `
  - name: static
    provider: ssh
    ssh:${ssh}
    hosts:${hosts}`;

export const ec2Target = (ec2: string) => `
  - name: api
    provider: ec2
    ec2:${ec2}
      autoScalingGroup: web-asg`;
