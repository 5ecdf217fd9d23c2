/**
 * What the plan suite knows and decides about resource changes, pure: which types are compute
 * and which hold state (built in, plus plan.compute and plan.stateful), which attributes change
 * in place (with their before and after, sensitive values never shown), and which groups and
 * instances launch from a template the plan changes.
 */
import type { Config } from '../../core/config.ts';
import { PLAN_DEFAULT_COMPUTE, PLAN_DEFAULT_STATEFUL } from '../../core/controls/plan.ts';
import { isNoOp, type ResourceChange } from './plan-file.ts';

/**
 * A launch template is versioned: its update adds a version and changes no running instance;
 * whether the new version reaches the instances is DL-PLAN-002's question.
 */
const TEMPLATES = new Set(['aws_launch_template', 'AWS::EC2::LaunchTemplate']);
/** An Auto Scaling group's update changes the group, not its running instances (DL-PLAN-002 again). */
const GROUPS = new Set(['aws_autoscaling_group', 'AWS::AutoScaling::AutoScalingGroup']);
/** The attributes (CloudFormation: properties) of a group or instance that say what it launches from. */
const LAUNCH_SPEC = ['launch_template', 'mixed_instances_policy', 'launch_configuration', 'LaunchTemplate', 'MixedInstancesPolicy', 'LaunchConfigurationName'];

export interface PlanPolicy {
  compute: Set<string>;
  stateful: Set<string>;
  allowed: Set<string>;
  acceptConditional: boolean;
}

export function policyOf(config: Config): PlanPolicy {
  const p = config.plan;
  return {
    compute: new Set([...PLAN_DEFAULT_COMPUTE, ...(p?.compute ?? [])]),
    stateful: new Set([...PLAN_DEFAULT_STATEFUL, ...(p?.stateful ?? [])]),
    // Without case: `tags` allows CloudFormation's Tags too.
    allowed: new Set((p?.allowedInPlaceAttributes ?? ['tags', 'tags_all', 'description']).map((a) => a.toLowerCase())),
    acceptConditional: p?.acceptConditional ?? false,
  };
}

export type Kind = 'replace' | 'update' | 'create' | 'delete' | 'no-op' | 'forget';

/** What a change does to the object that exists now. */
export function kindOf(c: ResourceChange): Kind {
  const a = new Set(c.actions);
  if (a.has('create') && (a.has('delete') || a.has('forget'))) return 'replace';
  if (a.has('update')) return 'update';
  if (a.has('create')) return 'create';
  if (a.has('delete')) return 'delete';
  if (a.has('forget')) return 'forget';
  return 'no-op';
}

/** Destroys the object that exists now, and makes a new one (a forget keeps the old one running). */
export const destroysAndCreates = (c: ResourceChange) => c.actions.includes('delete') && c.actions.includes('create');

export const isTemplate = (c: ResourceChange) => TEMPLATES.has(c.type);
export const isGroup = (c: ResourceChange) => GROUPS.has(c.type);

// ---------------------------------------------------------------------------------------------
// Attribute changes, with the values shown as an auditor may read them.

export const SENSITIVE = '(sensitive)';
export const UNKNOWN = '(known after apply)';

export interface AttrChange {
  /** root_block_device[0].volume_size */
  path: string;
  /** The top-level attribute: what plan.allowedInPlaceAttributes names. */
  top: string;
  before: string;
  after: string;
}

type Mark = unknown;
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const sub = (m: Mark, k: string | number): Mark => (m === true ? true : Array.isArray(m) ? m[k as number] : isObj(m) ? m[k as string] : undefined);
const hasTrue = (m: Mark): boolean => m === true || (Array.isArray(m) ? m.some(hasTrue) : isObj(m) ? Object.values(m).some(hasTrue) : false);
const same = (a: unknown, b: unknown): boolean => {
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => same(a[k], b[k]));
  }
  return a === b;
};

/** A value with every leaf its marks call sensitive replaced: what may be shown of it. */
export function redactValue(v: unknown, sensitive: Mark): unknown {
  if (sensitive === true) return SENSITIVE;
  if (Array.isArray(v)) return v.map((x, i) => redactValue(x, sub(sensitive, i)));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactValue(x, sub(sensitive, k))]));
  return v;
}

const MAX_SHOWN = 200;
function show(v: unknown, sensitive: Mark, unknown: Mark, secrets: readonly string[]): string {
  if (sensitive === true) return SENSITIVE;
  if (unknown === true) return UNKNOWN;
  if (v === undefined || v === null) return hasTrue(unknown) ? UNKNOWN : 'null';
  let s = JSON.stringify(redactValue(v, sensitive));
  // A value the plan marks sensitive elsewhere is hidden here too (as written, and as JSON escapes it).
  for (const secret of secrets) for (const form of new Set([secret, JSON.stringify(secret).slice(1, -1)])) s = s.split(form).join(SENSITIVE);
  if (s === JSON.stringify(SENSITIVE)) return SENSITIVE;
  return s.length > MAX_SHOWN ? `${s.slice(0, MAX_SHOWN)}…` : s;
}

const step = (path: string, k: string | number) =>
  typeof k === 'number' ? `${path}[${k}]` : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(k) ? (path ? `${path}.${k}` : k) : `${path}[${JSON.stringify(k)}]`;

/**
 * The attributes a change changes, down to the leaves where both sides are objects or lists of
 * one length; a value unknown until apply counts as changed. Sensitive values are shown as
 * "(sensitive)", never themselves.
 */
export function attributeChanges(c: ResourceChange): AttrChange[] {
  const out: AttrChange[] = [];
  const walk = (path: string, top: string, b: unknown, a: unknown, u: Mark, bs: Mark, as: Mark) => {
    const record = () => out.push({ path, top, before: show(b, bs, undefined, c.secrets), after: show(a, as, u, c.secrets) });
    if (u === true) return record();
    const recurse = (keys: Array<string | number>) => {
      for (const k of keys) walk(step(path, k), top, sub(b, k), sub(a, k), sub(u, k), sub(bs, k), sub(as, k));
    };
    if (isObj(b) && isObj(a)) return recurse([...new Set([...Object.keys(b), ...Object.keys(a), ...(isObj(u) ? Object.keys(u) : [])])]);
    if (Array.isArray(b) && Array.isArray(a) && b.length === a.length) return recurse(b.map((_, i) => i));
    if (hasTrue(u) || !same(b, a)) record();
  };
  const b = isObj(c.before) ? c.before : {};
  const a = isObj(c.after) ? c.after : {};
  const u = isObj(c.afterUnknown) ? c.afterUnknown : {};
  for (const k of [...new Set([...Object.keys(b), ...Object.keys(a), ...Object.keys(u)])])
    walk(step('', k), k, b[k], a[k], u[k], sub(c.beforeSensitive, k), sub(c.afterSensitive, k));
  return out;
}

/** A change set's values are never shown: it marks none of them sensitive. */
export const NOT_SHOWN = '(not shown: a change set marks no secret)';

/** The changes of a change set (names only) or of a plan, as AttrChanges. */
export function changedAttributes(c: ResourceChange): AttrChange[] {
  if (c.changedProperties)
    return c.changedProperties.map((p) => ({
      path: p.path,
      top: p.path.split(/[.[]/)[0]!,
      before: NOT_SHOWN,
      after:
        p.replacement === 'Never' || p.replacement === 'Unknown'
          ? NOT_SHOWN
          : `${NOT_SHOWN}, recreates it ${p.replacement === 'Always' ? 'always' : 'conditionally'}`,
    }));
  return attributeChanges(c);
}

/** Whether an attribute may change in place: plan.allowedInPlaceAttributes, without case. */
export const allowedInPlace = (policy: PlanPolicy, a: AttrChange) => policy.allowed.has(a.top.toLowerCase());

export const describeAttr = (a: AttrChange) => (a.before === NOT_SHOWN && a.after === NOT_SHOWN ? a.path : `${a.path} ${a.before} → ${a.after}`);

// ---------------------------------------------------------------------------------------------
// Launch templates and what launches from them (DL-PLAN-002).

interface LaunchSpec {
  id?: string;
  name?: string;
  version?: string;
}

/** The launch templates a group's or instance's values name (launch_template, mixed_instances_policy). */
export function launchSpecs(values: unknown): LaunchSpec[] {
  if (!isObj(values)) return [];
  const out: LaunchSpec[] = [];
  const take = (s: unknown, id: string, name: string) => {
    if (!isObj(s)) return;
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    const spec: LaunchSpec = {};
    if (str(s[id])) spec.id = str(s[id])!;
    if (str(s[name])) spec.name = str(s[name])!;
    if (str(s.version)) spec.version = str(s.version)!;
    if (spec.id || spec.name) out.push(spec);
  };
  for (const s of Array.isArray(values.launch_template) ? values.launch_template : []) take(s, 'id', 'name');
  for (const m of Array.isArray(values.mixed_instances_policy) ? values.mixed_instances_policy : [])
    for (const lt of isObj(m) && Array.isArray(m.launch_template) ? m.launch_template : [])
      for (const s of isObj(lt) && Array.isArray(lt.launch_template_specification) ? lt.launch_template_specification : [])
        take(s, 'launch_template_id', 'launch_template_name');
  return out;
}

export interface TemplateChange {
  /** The group's (instance's) own launch attributes change: the provider sees the change (an instance_refresh starts). */
  own: AttrChange[];
  /** Templates it names by $Latest/$Default that the plan changes: the group itself does not change. */
  viaReference: Array<{ template: string; version: string; why: string }>;
}

/**
 * Whether the template a group or instance launches from changes in this plan: by its own launch
 * attributes, or through a template it names by $Latest (any new version) or $Default (when the
 * plan moves the default version) that the plan updates or replaces.
 */
export function templateChangeOf(launcher: ResourceChange, all: readonly ResourceChange[]): TemplateChange | undefined {
  const own = changedAttributes(launcher).filter((a) => LAUNCH_SPEC.includes(a.top));
  const viaReference: TemplateChange['viaReference'] = [];
  const templates = all.filter((c) => isTemplate(c) && (kindOf(c) === 'update' || kindOf(c) === 'replace'));
  for (const spec of launchSpecs(launcher.before)) {
    const version = spec.version ?? '$Default';
    if (version !== '$Latest' && version !== '$Default') continue; // a pinned version changes only with the group's own attributes
    for (const t of templates) {
      const tb = isObj(t.before) ? t.before : {};
      if (!((spec.id && tb.id === spec.id) || (spec.name && tb.name === spec.name))) continue;
      const attrs = attributeChanges(t);
      const movesDefault =
        kindOf(t) === 'replace' || (isObj(t.after) && t.after.update_default_version === true) || attrs.some((a) => a.top === 'default_version');
      if (version === '$Latest' || movesDefault)
        viaReference.push({
          template: t.address,
          version,
          why: `it names ${t.address} by ${version}, which the plan ${kindOf(t) === 'replace' ? 'replaces' : version === '$Latest' ? 'gives a new version' : 'moves to a new default version'}`,
        });
    }
  }
  return own.length || viaReference.length ? { own, viaReference } : undefined;
}

/** A group or instance that launches from a template, and already runs (not created by this plan). */
export const isLauncher = (c: ResourceChange) =>
  (isGroup(c) || launchSpecs(c.before).length > 0) && (kindOf(c) === 'update' || kindOf(c) === 'replace' || kindOf(c) === 'no-op');

// ---------------------------------------------------------------------------------------------
// What the plan owes of each change.

export type PlanControl = 'DL-PLAN-001' | 'DL-PLAN-002' | 'DL-PLAN-003';

/** The controls a change owes a check of. */
export function owedControls(c: ResourceChange, all: readonly ResourceChange[], policy: PlanPolicy): PlanControl[] {
  const out: PlanControl[] = [];
  const kind = kindOf(c);
  if (policy.compute.has(c.type) && (kind === 'update' || kind === 'replace')) out.push('DL-PLAN-001');
  if (isLauncher(c) && templateChangeOf(c, all)) out.push('DL-PLAN-002');
  if (policy.stateful.has(c.type) && (destroysAndCreates(c) || c.conditional)) out.push('DL-PLAN-003');
  return out;
}

/** What a control is about, for the reason it does not apply to a plan. */
export const NOTHING_OWED: Record<PlanControl, string> = {
  'DL-PLAN-001': 'no compute resource is updated or replaced',
  'DL-PLAN-002': 'no running group or instance launches from a template that changes',
  'DL-PLAN-003': 'no stateful resource is replaced',
};

/** A short list of what a plan changes, for the reason a control does not apply to it. */
export function changeSummary(changes: readonly ResourceChange[]): string {
  const changing = changes.filter((c) => !isNoOp(c));
  const shown = changing.slice(0, 8).map((c) => `${c.address} ${kindOf(c)}`);
  return shown.join(', ') + (changing.length > shown.length ? `, and ${changing.length - shown.length} more` : '');
}
