/**
 * The suites driftless runs, in one table: their names, the phase each runs in, and the report's
 * name for each are read from here (and the schemas' suite enums are generated from it).
 * Phases never overlap and run in the table's order: the plan gate reads plan files only (first:
 * a release that would patch compute in place is caught before anything is probed), the audits
 * only read, the team's checks only read, chaos kills, a deploy replaces the fleet.
 */
export const SUITE_TABLE = [
  { name: 'plan', phase: 'plan', feature: 'Pre-release plan' },
  { name: 'ssh-edits', phase: 'audit', feature: 'SSH edits' },
  { name: 'image-integrity', phase: 'audit', feature: 'Image integrity' },
  // The team's own checks (Playwright Test): read-only, after the audits' canaries are swept.
  { name: 'custom', phase: 'custom', feature: 'Custom checks' },
  { name: 'chaos', phase: 'chaos', feature: 'Chaos' },
  // Last: a deploy replaces the fleet the other suites audit.
  { name: 'deploy', phase: 'deploy', feature: 'Deploy' },
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
