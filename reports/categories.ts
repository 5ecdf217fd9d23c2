/**
 * Allure categories an auditor reads first, from core/categories.ts. The report step prefixes
 * each failure message with `[Category]`, so Allure's message-regex categories sort every
 * result, and turns probe errors into broken.
 */
import { CATEGORIES, PROBE_ERROR } from '../core/categories.ts';
import { escapeRegExp } from '../core/regexp.ts';

/**
 * The report's own per-fleet verdict results (reports/matrix.ts): not checks, so not a kind of
 * violation; listed first so Allure never files them under "Product defects".
 */
export const FLEET_VERDICT_CATEGORY = {
  name: 'Fleet verdict',
  description: 'The answer for a fleet (not a check of its own): open it for its compliance matrix.',
};

/** categories.json for Allure: Java regexes matched against the whole message. */
export function allureCategories(): Array<Record<string, unknown>> {
  return [FLEET_VERDICT_CATEGORY, ...CATEGORIES].map(({ name, description }) =>
    name === PROBE_ERROR
      ? { name, description, matchedStatuses: ['broken'], messageRegex: `(?s)(?!\\[${escapeRegExp(FLEET_VERDICT_CATEGORY.name)}\\]).*` }
      : name === FLEET_VERDICT_CATEGORY.name
        ? { name, description, matchedStatuses: ['failed', 'broken'], messageRegex: `(?s)\\[${escapeRegExp(name)}\\].*` }
        : { name, description, matchedStatuses: ['failed'], messageRegex: `(?s)\\[${escapeRegExp(name)}\\].*` },
  );
}
