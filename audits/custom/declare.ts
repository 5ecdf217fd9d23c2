/**
 * A team's own controls, as check files declare them (`control({...})` then `test(...)`, from
 * 'driftless/test'): the declaration's rules and the state a check file reports to while it is
 * loaded. The engine loads the files itself first to discover what they declare (the plan owes
 * their checks before anything is probed); Playwright Test loads them again to run them.
 */
import { CATEGORY_NAMES } from '../../core/categories.ts';
import { type Control, CUSTOM_CONTROL_ID, type Severity } from '../../core/controls.ts';

export interface ControlDeclaration {
  id: string;
  title: string;
  /** One of the built-in categories, or a name of the team's own (it then appears in the report's categories). */
  category: string;
  /** What a failure proves, in an auditor's words. */
  proves: string;
  scope: 'host' | 'fleet';
  /** A glob over fleet names it applies to (default: every fleet). */
  fleets?: string;
  severity?: Severity;
  /** Per run of the check on one host (or fleet); default 30, at most 600. */
  timeoutSeconds?: number;
}

const FIELDS = new Set(['id', 'title', 'category', 'proves', 'scope', 'fleets', 'severity', 'timeoutSeconds']);

/** What is wrong with a declaration, one line each; empty when it is valid. */
export function declarationProblems(d: unknown): string[] {
  if (!d || typeof d !== 'object') return ['control() takes an object: { id, title, category, proves, scope }'];
  const o = d as Record<string, unknown>;
  const out: string[] = [];
  for (const k of Object.keys(o)) if (!FIELDS.has(k)) out.push(`unknown field "${k}" (allowed: ${[...FIELDS].join(', ')})`);
  const id = o.id;
  if (typeof id !== 'string') out.push('id: required, a string such as "ACME-001"');
  else if (id.startsWith('DL-')) out.push(`id "${id}": DL- is driftless's own namespace; use your team's, e.g. "ACME-001"`);
  else if (!CUSTOM_CONTROL_ID.test(id)) out.push(`id "${id}": use capitals, digits and dashes, starting with a letter, e.g. "ACME-001" or "PAY-SSH-2"`);
  for (const k of ['title', 'category', 'proves'] as const)
    if (typeof o[k] !== 'string' || !(o[k] as string).trim()) out.push(`${k}: required, a non-empty string`);
  if (o.scope !== 'host' && o.scope !== 'fleet') out.push(`scope: "host" (one result per host) or "fleet" (one per fleet), got ${JSON.stringify(o.scope)}`);
  if (o.fleets !== undefined && (typeof o.fleets !== 'string' || !o.fleets)) out.push('fleets: a glob over fleet names, e.g. "pay-*"');
  if (o.severity !== undefined && !['blocker', 'critical', 'normal', 'minor'].includes(o.severity as string))
    out.push('severity: blocker, critical, normal or minor');
  const t = o.timeoutSeconds;
  if (t !== undefined && (typeof t !== 'number' || !(t > 0) || t > 600)) out.push('timeoutSeconds: a number of seconds, more than 0 and at most 600');
  return out;
}

/** The registry entry of a declared control. */
export function controlOf(d: ControlDeclaration, file: string): Control {
  return {
    id: d.id,
    name: d.title,
    title: d.title,
    suite: 'custom',
    family: 'Custom checks',
    scope: d.scope,
    violations: [],
    proves: d.proves,
    ...(d.severity ? { severity: d.severity } : {}),
    custom: { category: d.category, file, ...(d.fleets ? { fleets: d.fleets } : {}), timeoutSeconds: d.timeoutSeconds ?? 30 },
  };
}

export const isBuiltInCategory = (c: string) => (CATEGORY_NAMES as readonly string[]).includes(c);

/** What one check file declared: its controls, and how many tests each has. */
export interface FileDeclarations {
  file: string;
  controls: Array<{ declaration: ControlDeclaration; tests: string[] }>;
}

/** The state a check file reports to while the engine loads it (discovery); absent in Playwright's workers. */
interface Discovery {
  file: string;
  found: FileDeclarations;
}

let discovery: Discovery | undefined;

export function startDiscovery(file: string): void {
  discovery = { file, found: { file, controls: [] } };
}

export function endDiscovery(): FileDeclarations {
  const found = discovery!.found;
  discovery = undefined;
  return found;
}

export function discovering(): Discovery | undefined {
  return discovery;
}
