/**
 * The suites driftless runs, in one table: their names, the phase each runs in, and the report's
 * name for each are read from here (and the schemas' suite enums are generated from it).
 * Phases never overlap and run in the table's order: the plan gate reads plan files only (first:
 * a release that would patch compute in place is caught before anything is probed), the audits
 * only read, the team's checks only read, chaos kills, a deploy replaces the fleet. A suite that
 * `follows` another audits what that one brought up (the replacements of chaos's victims, the
 * instances of a new release): it runs whenever its leader runs, in the phase after it.
 */
export const SUITE_TABLE = [
  { name: 'plan', phase: 'plan', feature: 'Pre-release plan' },
  { name: 'ssh-edits', phase: 'audit', feature: 'SSH edits' },
  { name: 'image-integrity', phase: 'audit', feature: 'Image integrity' },
  // The team's own checks (Playwright Test): read-only, after the audits' canaries are swept.
  { name: 'custom', phase: 'custom', feature: 'Custom checks' },
  { name: 'chaos', phase: 'chaos', feature: 'Chaos' },
  {
    name: 'replacements',
    phase: 'after-chaos',
    feature: 'Replacements',
    follows: 'chaos',
    about:
      "After chaos, the instance that replaced the victim of each planned kill of a fleet owes every host check of the ssh-edits and image-integrity suites, under the same control ids, in the slot `replacement-of-kill-<k>`; its results name the instance and its origin, and add what differs from its predecessor's launch configuration. A kill that happened but whose victim was never replaced: broken (not run); a planned kill that did not happen (stop condition, budget, dry run): not applicable, with the reason.",
  },
  // Last: a deploy replaces the fleet the other suites audit.
  { name: 'deploy', phase: 'deploy', feature: 'Deploy' },
  {
    name: 'new-release',
    phase: 'after-deploy',
    feature: 'New release',
    follows: 'deploy',
    about:
      "After a driven deploy, every instance of each fleet it rolled out to owes every host check of the ssh-edits and image-integrity suites, against the release as re-read after the deploy, planned as one set per fleet (`deployed-instances`: how many instances a release brings up is unknown before it runs); each result is the worst of its instances', each named with its origin and what differs from its predecessor's launch configuration.",
  },
] as const;

export type SuiteName = (typeof SUITE_TABLE)[number]['name'];
export type Phase = (typeof SUITE_TABLE)[number]['phase'];

export const SUITES: readonly SuiteName[] = SUITE_TABLE.map((s) => s.name);
/** The phases in the order a run goes through them. */
export const PHASES: readonly Phase[] = [...new Set(SUITE_TABLE.map((s) => s.phase))];

export function isSuiteName(s: string): s is SuiteName {
  return (SUITES as readonly string[]).includes(s);
}

export function phaseOf(suite: SuiteName): Phase {
  return SUITE_TABLE.find((s) => s.name === suite)!.phase;
}

/** What the report groups a suite's results under. */
export function featureOf(suite: SuiteName): string {
  return SUITE_TABLE.find((s) => s.name === suite)!.feature;
}

/** The suite whose outcome this one audits (it runs whenever that one does), if any. */
export function leaderOf(suite: SuiteName): SuiteName | undefined {
  const row = SUITE_TABLE.find((s) => s.name === suite)!;
  return 'follows' in row ? row.follows : undefined;
}

/** The suites a selection runs: the selected ones and those that follow them, in the table's order. */
export function withFollowers(selected: readonly SuiteName[]): SuiteName[] {
  return SUITES.filter((s) => selected.includes(s) || (leaderOf(s) !== undefined && selected.includes(leaderOf(s)!)));
}

/** What a suite that follows another owes, in words (docs/controls.md). */
export function aboutOf(suite: SuiteName): string | undefined {
  const row = SUITE_TABLE.find((s) => s.name === suite)!;
  return 'about' in row ? row.about : undefined;
}
