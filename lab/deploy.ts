/**
 * `driftless lab deploy`: the lab's own release pipeline, so the deploy suite has a real deploy
 * to watch. It builds release n+1 of both web images, then:
 *  - cattle (the compliant way): one slot at a time, the old container is stopped and removed and
 *    a NEW container of the new image takes its place; the load balancer's health checks move
 *    the traffic; the rest of the fleet keeps serving;
 *  - snowflake (the way driftless must catch): the new release's file is copied into each running
 *    host and the host is restarted in place; its image never changes.
 * The release file is updated as a build pipeline would. The supervisor (the lab's auto-scaling
 * group) is suspended while it runs, as an ASG's replace process is during a rolling deploy.
 */
import type Docker from 'dockerode';
import { LabError, errorMessage } from '../core/errors.ts';
import { connectEngine, putFile } from '../probes/docker.ts';
import { sleep } from '../probes/net.ts';
import { attestBuilds } from './attest.ts';
import { buildRelease } from './images.ts';
import { ensureProvenanceKey } from './keys.ts';
import { hostContainer, hostHealth, readLabState, writeState } from './lab.ts';
import { ATTESTED_IMAGES, type HostSpec, makePlan } from './lab-plan.ts';
import { attestationsDir, labRelease, readRelease, writeRelease } from './release.ts';

type Log = (line: string) => void;

export interface LabDeployResult {
  release: number;
  images: { cattle: string; snowflake: string };
  replaced: string[];
  patched: string[];
  seconds: number;
}

/** Until the host answers HTTP and SSH (lab.ts's own health check), or the deadline. */
async function waitServing(h: HostSpec, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const health = await hostHealth(h);
    if (health === 'healthy') return;
    if (Date.now() - t0 > timeoutMs) throw new LabError(`${h.name} is not healthy ${timeoutMs / 1000} s after the deploy started it: ${health}`);
    await sleep(100);
  }
}

export async function labDeploy(opts: { portBase?: number; log?: Log } = {}): Promise<LabDeployResult> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const plan = makePlan(opts.portBase);
  const state = readLabState(plan);
  if (state?.status !== 'up') throw new LabError('the lab is not up: run `driftless lab up` first');
  const docker: Docker = await connectEngine();
  const n = (state.release ?? 1) + 1;

  log(`[1/4] build release ${n}`);
  const builds = await buildRelease(docker, n, (l) => log(l));
  const sources = await attestBuilds(attestationsDir(plan), ensureProvenanceKey(plan), builds, ATTESTED_IMAGES, log);
  const images = { cattle: builds.cattle.digest, snowflake: builds.snowflake.digest };

  log('[2/4] suspend the supervisor (no replacement of the instances the deploy retires)');
  const supervisor = docker.getContainer(plan.names.supervisor);
  await supervisor.stop({ t: 2 }).catch(() => {});
  const replaced: string[] = [];
  const patched: string[] = [];
  try {
    log('[3/4] cattle: replace each instance with a new one of the new image, one at a time');
    for (const h of plan.hosts.filter((x) => x.fleet === 'cattle')) {
      const old = docker.getContainer(h.name);
      await old.stop({ t: 5 }).catch(() => {}); // graceful: the load balancer drains it on its next check
      await old.remove({ force: true }).catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw new LabError(`could not remove ${h.name}: ${errorMessage(err)}`);
      });
      const fresh = await docker.createContainer(hostContainer(h, plan, images.cattle));
      await fresh.start();
      await waitServing(h, 30_000);
      await sleep(600); // two health checks: the load balancer sends it traffic again before the next goes
      replaced.push(h.name);
      log(`  ${h.name}: replaced by ${fresh.id.slice(0, 12)} (${images.cattle.slice(0, 19)})`);
    }

    log('[4/4] snowflake: copy the new release into each running host and restart it in place');
    for (const h of plan.hosts.filter((x) => x.fleet === 'snowflake')) {
      const c = docker.getContainer(h.name);
      const info = await c.inspect().catch(() => undefined);
      if (!info?.State.Running) {
        log(`  ${h.name}: not running, skipped`);
        continue;
      }
      await putFile(docker, h.name, '/opt/app', 'release', `${n}\n`);
      await c.restart({ t: 2 });
      await waitServing(h, 30_000);
      patched.push(h.name);
      log(`  ${h.name}: patched in place (release file copied in, restarted)`);
    }
  } finally {
    await supervisor.start().catch(() => {});
  }

  // The release file, as the pipeline publishes it: both web services at release n, with their sources.
  const next = labRelease(plan, `lab-r${n}`, {
    cattle: { digest: images.cattle, source: sources.cattle },
    snowflake: { digest: images.snowflake, source: sources.snowflake },
  });
  const deployed = new Set(plan.hosts.filter((h) => h.fleet === 'cattle' || h.fleet === 'snowflake').map((h) => h.service));
  const before = readRelease(plan)?.services ?? {};
  // The fleets the deploy does not roll (sticky) keep what they were released with.
  writeRelease(plan, { release: next.release, services: { ...before, ...Object.fromEntries(Object.entries(next.services).filter(([s]) => deployed.has(s))) } });
  writeState(plan, { ...state, release: n });
  const seconds = (Date.now() - t0) / 1000;
  log(`release ${n} deployed in ${seconds.toFixed(1)} s: replaced ${replaced.join(', ') || 'none'}; patched in place ${patched.join(', ') || 'none'}`);
  return { release: n, images, replaced, patched, seconds };
}
