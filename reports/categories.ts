/**
 * Allure categories an auditor reads first. Each violation a suite records (label `violation`)
 * maps to one category; the report step prefixes the failure message with `[Category]` so
 * Allure's message-regex categories sort every result, and turns probe errors into broken.
 */
export const CATEGORY_OF_VIOLATION: Record<string, string> = {
  'mutable-host': 'Mutable host',
  tainted: 'Mutable host',
  'writable-root': 'Mutable host',
  'out-of-band-access': 'Out-of-band access',
  'filesystem-drift': 'Drift',
  'manifest-drift': 'Drift',
  'wrong-image': 'Wrong image',
  'undeclared-image': 'Wrong image',
  'ami-unavailable': 'Wrong image',
  'state-lost': 'State lost',
  'restarted-in-place': 'Not replaced',
  'not-replaced': 'Not replaced',
  'not-replaced-on-deploy': 'Not replaced',
  'slow-recovery': 'Slow recovery',
  'slo-breach': 'SLO breach',
};

export const PROBE_ERROR = 'Probe error';

/** In the order an auditor should read them. */
export const CATEGORY_NAMES = ['Mutable host', 'Drift', 'Wrong image', 'State lost', 'Not replaced', 'Slow recovery', 'SLO breach', 'Out-of-band access', 'Other violation', PROBE_ERROR] as const;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** categories.json for Allure: Java regexes matched against the whole message. */
export function allureCategories(): Array<Record<string, unknown>> {
  return CATEGORY_NAMES.map((name) =>
    name === PROBE_ERROR
      ? { name, description: 'The harness could not tell (login failed, host unreachable, unreadable result): this host is NOT proven compliant.', matchedStatuses: ['broken'] }
      : { name, matchedStatuses: ['failed'], messageRegex: `(?s)\\[${esc(name)}\\].*` },
  );
}
