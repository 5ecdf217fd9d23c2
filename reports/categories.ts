/**
 * Allure categories an auditor reads first, from core/categories.ts. The report step prefixes
 * each failure message with `[Category]`, so Allure's message-regex categories sort every
 * result, and turns probe errors into broken.
 */
import { CATEGORIES, PROBE_ERROR } from '../core/categories.ts';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** categories.json for Allure: Java regexes matched against the whole message. */
export function allureCategories(): Array<Record<string, unknown>> {
  return CATEGORIES.map(({ name, description }) =>
    name === PROBE_ERROR
      ? { name, description, matchedStatuses: ['broken'] }
      : { name, description, matchedStatuses: ['failed'], messageRegex: `(?s)\\[${esc(name)}\\].*` },
  );
}
