/**
 * The gathering of the suites that audit what came up during the run: which instance answers each
 * owed slot (slots.ts, from the outcome the chaos or deploy suite left in `run.earlier`), then the
 * ssh-edits and image-integrity gatherings of exactly those instances, at once, as the audit phase
 * runs them. Loaded only when such a suite runs.
 */
import type { Config } from '../../core/config.ts';
import { controlsOf } from '../../core/controls.ts';
import { errorMessage } from '../../core/errors.ts';
import type { SnapshotHost } from '../../core/inventory.ts';
import { sleep, sshBanner } from '../../probes/net.ts';
import { providerFor } from '../../providers/registry.ts';
import { snapshotHost } from '../../providers/snapshot.ts';
import type { DeployOutcome } from '../deploy/watch.ts';
import { auditImages, type HostImageAudit, processesOwed } from '../image/image-gather.ts';
import { auditFleets, type HostAudit } from '../ssh-edits/ssh-edits-gather.ts';
import { sshTargets } from '../ssh-edits/ssh-edits-plan.ts';
import type { SuiteRun } from '../suite.ts';
import type { SlotFacts } from './slot-judges.ts';
import { type ChaosOutcomes, type Listing, newReleaseSlots, replacementSlots, type Slot } from './slots.ts';

/** The (fleet, slot) pairs this run owes checks of. */
function owedSlots(run: SuiteRun): Array<{ fleet: string; slot: string }> {
  const seen = new Map<string, { fleet: string; slot: string }>();
  for (const c of run.owed) if (c.host) seen.set(`${c.fleet}\u0000${c.host}`, { fleet: c.fleet, slot: c.host });
  return [...seen.values()];
}

/** Every fleet of the owed slots, as it is now. */
async function listNow(run: SuiteRun, fleets: readonly string[]): Promise<Map<string, Listing>> {
  const now = new Map<string, Listing>();
  for (const fleet of fleets) {
    const target = run.config.targets.find((t) => t.name === fleet)!;
    try {
      now.set(fleet, (await (await providerFor(target, run.config)).list()).map(snapshotHost));
    } catch (err) {
      now.set(fleet, { error: errorMessage(err) });
    }
  }
  return now;
}

const SSH_READY_MS = 30_000;

async function sshAnswers(h: SnapshotHost): Promise<void> {
  if (!h.ssh) return;
  const until = Date.now() + SSH_READY_MS;
  while (Date.now() < until && !(await sshBanner(h.ssh.port, h.ssh.host, 1000))) await sleep(500);
}

/** The host facts of every instance of the slots, gathered as the ssh-edits and image-integrity suites gather them. */
async function auditSlots(run: SuiteRun, slots: Slot[], config: Config): Promise<SlotFacts> {
  const byFleet = new Map<string, Map<string, SnapshotHost>>();
  for (const s of slots) for (const m of s.members) (byFleet.get(s.fleet) ?? byFleet.set(s.fleet, new Map()).get(s.fleet)!).set(m.host.instanceId, m.host);
  const fleets = await Promise.all(
    [...byFleet].map(async ([fleet, hosts]) => {
      const target = config.targets.find((t) => t.name === fleet)!;
      return { snapshot: { target: fleet, provider: target.provider, hosts: [...hosts.values()] }, target, provider: await providerFor(target, config) };
    }),
  );
  const count = fleets.reduce((n, f) => n + f.snapshot.hosts.length, 0);
  if (!count) return { slots, ssh: [], image: [] };
  const owes = (suite: 'ssh-edits' | 'image-integrity') => {
    const ids = new Set(controlsOf(suite).map((c) => c.id));
    return run.owed.some((c) => ids.has(c.control));
  };
  // Processes are read on the instances of the slots that owe DL-IMG-017 (owed by slot name), as the image suite does per host.
  const owesProcesses = processesOwed(run.owed);
  const processHosts = new Set(slots.filter((s) => owesProcesses(s.fleet, s.slot)).flatMap((s) => s.members.map((m) => `${s.fleet}/${m.host.id}`)));
  const readsProcesses = (fleet: string, host: string) => processHosts.has(`${fleet}/${host}`);
  run.progress(`auditing ${count} instances that came up (${slots.flatMap((s) => s.members.map((m) => `${m.host.id}: ${m.origin}`)).join('; ')})`);
  // Running is not serving: a replacement's sshd may still be starting. Bounded; one that never
  // answers is audited anyway, and its SSH checks say it was unreachable.
  await Promise.all(fleets.flatMap((f) => f.snapshot.hosts.map((h) => sshAnswers(h))));
  const [ssh, image] = await Promise.all([
    owes('ssh-edits')
      ? auditFleets(
          fleets.filter((f) => sshTargets(f.target)),
          config.policy.ssh,
          run.runId,
        )
      : Promise.resolve([] as HostAudit[]),
    owes('image-integrity') ? auditImages(fleets, config, undefined, readsProcesses) : Promise.resolve([] as HostImageAudit[]),
  ]);
  return { slots, ssh, image };
}

/** The replacements suite: the instance that replaced each kill's victim. */
export async function gatherReplacements(run: SuiteRun): Promise<SlotFacts> {
  const wanted = owedSlots(run);
  const now = await listNow(run, [...new Set(wanted.map((w) => w.fleet))]);
  const slots = replacementSlots(wanted, run.earlier?.get('chaos') as ChaosOutcomes | undefined, now);
  return auditSlots(run, slots, run.config);
}

/** The new-release suite: every instance running after the deploy, against the release as re-read after it. */
export async function gatherNewRelease(run: SuiteRun): Promise<SlotFacts> {
  const wanted = owedSlots(run);
  const outcome = run.earlier?.get('deploy') as DeployOutcome | undefined;
  const now = await listNow(run, [...new Set(wanted.map((w) => w.fleet))]);
  const slots = newReleaseSlots(wanted, outcome, now);
  return auditSlots(run, slots, outcome ? { ...run.config, release: outcome.release } : run.config);
}
