/**
 * Which real instance answers each planned slot, from what the run's earlier phases found. Pure:
 * the chaos outcome (its replacement verdicts, in kill order) or the deploy outcome, and the fleets
 * as listed now, in; per slot the instances to audit with their origin and predecessor, or why
 * its checks do not apply (a kill that did not happen) or could not run (a victim never replaced).
 */
import type { Release } from '../../core/config.ts';
import type { SnapshotHost } from '../../core/inventory.ts';
import type { ChaosOutcome } from '../chaos/experiment.ts';
import type { DeployOutcome } from '../deploy/watch.ts';
import type { LaunchReading } from '../launch-diff.ts';
import { killOf } from './slots-plan.ts';

/** What the chaos suite gathered: one outcome (or the error) per fleet. */
export type ChaosOutcomes = ReadonlyMap<string, ChaosOutcome | { error: string }>;

/** A fleet as listed after the experiment, or why it could not be. */
export type Listing = SnapshotHost[] | { error: string };

export interface Member {
  host: SnapshotHost;
  /** Where it came from: "replacement of dl-cattle-2 (kill 1 of fleet cattle)", "deployed by release lab-r2". */
  origin: string;
  /** The instance it took the place of, and how that one was launched (read before it was killed or replaced). */
  predecessor?: { name: string; launch?: LaunchReading };
}

export interface Slot {
  fleet: string;
  slot: string;
  /** A replacement is one instance; a deployed set is every instance of the fleet after the deploy. */
  kind: 'replacement' | 'set';
  members: Member[];
  /** Why its checks do not apply (the kill did not happen), with the reason. */
  notApplicable?: string;
  /** Why its checks could not run (the victim was never replaced): broken, never passed. */
  notRun?: string;
  /** The release its instances must run, when it is not the config's (a deploy's, re-read after it). */
  release?: Release;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
export const describeInstance = (h: SnapshotHost) => (h.instanceId && h.instanceId !== h.id ? `${h.id} (${short(h.instanceId)})` : h.id);

/** Why kill k of a fleet did not happen: what stopped, spared or refused the kills. */
function whyNoKill(o: ChaosOutcome, k: number): string {
  const said = o.timeline.filter((e) => ['abort', 'budget-spent', 'spared', 'kill-failed'].includes(e.kind)).map((e) => e.message);
  if (said.length) return said.join('; ');
  return `only ${o.replacements.length} kills happened: ${o.victims.length} victims were drawn among ${o.eligible.length} eligible hosts (kill ${k} was planned)`;
}

/** Per replacement slot: the instance that replaced the victim of that kill, or why there is none. */
export function replacementSlots(
  wanted: ReadonlyArray<{ fleet: string; slot: string }>,
  outcomes: ChaosOutcomes | undefined,
  now: ReadonlyMap<string, Listing>,
): Slot[] {
  return wanted.map(({ fleet, slot }): Slot => {
    const base: Slot = { fleet, slot, kind: 'replacement', members: [] };
    const k = killOf(slot) ?? 0;
    const of = `the replacement of kill ${k} of fleet ${fleet}`;
    if (!outcomes) return { ...base, notRun: `the chaos experiment's outcome is unknown (the chaos suite did not finish), so ${of} was not audited` };
    const o = outcomes.get(fleet);
    if (!o) return { ...base, notRun: `the chaos experiment on fleet ${fleet} did not run, so ${of} was not audited` };
    if ('error' in o) return { ...base, notRun: `${o.error}; so ${of} was not audited` };
    if (o.dryRun) return { ...base, notApplicable: `chaos.dryRun: nothing was killed, so no instance replaced a victim of kill ${k} of fleet ${fleet}` };
    if (o.notRun) return { ...base, notApplicable: `kill ${k} of fleet ${fleet} did not happen: the chaos experiment did not run (${o.notRun})` };
    const r = o.replacements[k - 1];
    if (!r) return { ...base, notApplicable: `kill ${k} of fleet ${fleet} did not happen: ${whyNoKill(o, k)}` };
    const victim = `${r.host} (kill ${k} of fleet ${fleet})`;
    if (!r.newInstanceId || r.verdict === 'unchanged') return { ...base, notRun: `${victim} was never replaced: ${r.detail}` };
    const listed = now.get(fleet);
    if (!listed || 'error' in listed)
      return { ...base, notRun: `fleet ${fleet} could not be listed after the experiment (${listed?.error ?? 'not listed'}), so ${of} was not found` };
    const h = listed.find((x) => x.instanceId === r.newInstanceId);
    if (!h || h.state !== 'running')
      return {
        ...base,
        notRun: `the instance that replaced ${victim}, ${short(r.newInstanceId)}, ${h ? `is ${h.state}` : 'is gone'}: it could not be audited`,
      };
    const origin = r.verdict === 'restarted-in-place' ? `${r.host} restarted in place after kill ${k} of fleet ${fleet}` : `replacement of ${victim}`;
    const launch = o.predecessors?.[r.oldInstanceId];
    return { ...base, members: [{ host: h, origin, predecessor: { name: r.host, ...(launch ? { launch } : {}) } }] };
  });
}

/** Per deployed set: every instance of its fleet running after the deploy, against the release as re-read after it. */
export function newReleaseSlots(
  wanted: ReadonlyArray<{ fleet: string; slot: string }>,
  outcome: DeployOutcome | undefined,
  now: ReadonlyMap<string, Listing>,
): Slot[] {
  return wanted.map(({ fleet, slot }): Slot => {
    const base: Slot = { fleet, slot, kind: 'set', members: [] };
    const of = `the instances of fleet ${fleet} after the deploy were not audited`;
    if (!outcome) return { ...base, notRun: `the deploy's outcome is unknown (the deploy suite did not finish), so ${of}` };
    if (outcome.notJudged) return { ...base, notRun: `the deploy was not judged (${outcome.notJudged}), so ${of}` };
    const f = outcome.fleets.find((x) => x.fleet === fleet);
    if (!f || f.error) return { ...base, notRun: `${f?.error ?? `the deploy did not watch fleet ${fleet}`}, so ${of}` };
    const listed = now.get(fleet);
    if (!listed || 'error' in listed)
      return { ...base, notRun: `fleet ${fleet} could not be listed after the deploy (${listed?.error ?? 'not listed'}), so ${of}` };
    const running = listed.filter((h) => h.state === 'running');
    if (!running.length) return { ...base, notRun: `no instance of fleet ${fleet} runs after the deploy` };
    const release = outcome.release.name ?? 'the new release';
    const members = running.map((h): Member => {
      const kept = f.before.find((b) => b.instanceId === h.instanceId);
      // Its predecessor: the instance of before it kept, or the one of its name it took the place of.
      const was = kept ?? f.before.find((b) => b.id === h.id);
      const launch = was ? f.launchBefore?.[was.instanceId] : undefined;
      return {
        host: h,
        origin: kept ? `kept through the deploy of release ${release} (not replaced)` : `deployed by release ${release}`,
        ...(was ? { predecessor: { name: was.id, ...(launch ? { launch } : {}) } } : {}),
      };
    });
    return { ...base, members, release: outcome.release };
  });
}
