/**
 * Lab-like hosts for one test: the lab's web images with sshd on a 127.0.0.1 port below the
 * ephemeral range, the lab's login key, and a host key of the lab's (pinned by fingerprint in the
 * test's config). Each carries a test label so `removeTestHosts` leaves nothing behind.
 */
import type Docker from 'dockerode';
import fs from 'node:fs';
import path from 'node:path';
import { fingerprintOfPublicKey } from '../../probes/hostkey.ts';
import { execIn } from '../../probes/docker.ts';
import { portIsFree, sleep, sshBanner } from '../../probes/net.ts';
import { labDir } from '../../lab/lab-plan.ts';

export const TEST_HOST_LABEL = 'driftless.test.host';

export interface TestHost {
  name: string;
  sshPort: number;
  httpPort: number;
  hostKey: string;
}

export async function freePort(from: number): Promise<number> {
  for (let p = from; p < from + 500; p++) if (await portIsFree(p)) return p;
  throw new Error(`no free port from ${from}`);
}

export async function startTestHost(
  docker: Docker,
  opts: {
    name: string;
    image: string;
    sshPort: number;
    httpPort: number;
    readOnlyRoot?: boolean;
    sysAdmin?: boolean;
    /** no-new-privileges, as the lab's cattle runs. */
    noNewPrivileges?: boolean;
    labels?: Record<string, string>;
    /** Replaces the image's entrypoint (a host that runs something besides the lab's programs). */
    entrypoint?: string[];
    /** /tmp mounted exec (the engine mounts a tmpfs noexec unless told): what a dropped binary needs to start. */
    execTmp?: boolean;
  },
): Promise<TestHost> {
  const lab = labDir();
  const keys = path.join(lab, 'hostkeys', 'dl-snowflake-1');
  await docker
    .getContainer(opts.name)
    .remove({ force: true })
    .catch(() => {});
  const c = await docker.createContainer({
    name: opts.name,
    Image: opts.image,
    Env: [`HTTP_PORT=${opts.httpPort}`, `SSH_PORT=${opts.sshPort}`, 'STATE_BACKEND=memory', `INSTANCE_NAME=${opts.name}`],
    Labels: { [TEST_HOST_LABEL]: 'true', ...opts.labels },
    ...(opts.entrypoint ? { Entrypoint: opts.entrypoint } : {}),
    HostConfig: {
      NetworkMode: 'host',
      ReadonlyRootfs: !!opts.readOnlyRoot,
      ...(opts.sysAdmin ? { CapAdd: ['SYS_ADMIN'] } : {}),
      ...(opts.noNewPrivileges ? { SecurityOpt: ['no-new-privileges'] } : {}),
      Tmpfs: opts.readOnlyRoot ? { '/run': 'rw,nosuid,nodev,mode=755', '/tmp': `rw,${opts.execTmp ? 'exec,' : ''}nosuid,nodev,mode=1777` } : {},
      Binds: [`${keys}:/etc/ssh/keys:ro`, `${path.join(lab, 'authorized_keys')}:/etc/ssh/lab_authorized_keys:ro`],
    },
  });
  await c.start();
  for (let i = 0; i < 100 && !(await sshBanner(opts.sshPort, '127.0.0.1', 500)); i++) await sleep(100);
  const hostKey = fingerprintOfPublicKey(fs.readFileSync(path.join(keys, 'ssh_host_ed25519_key.pub'), 'utf8'));
  return { name: opts.name, sshPort: opts.sshPort, httpPort: opts.httpPort, hostKey };
}

/** Runs a shell command in a test host as root (setting up a trap, or reading the aftermath). */
export async function inHost(docker: Docker, name: string, script: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return execIn(docker, name, ['sh', '-c', script], '0');
}

export async function removeTestHosts(docker: Docker): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${TEST_HOST_LABEL}=true`] } })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
  }
}
