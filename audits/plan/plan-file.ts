/**
 * Reading a plan file the plan suite gates: the JSON of a Terraform/OpenTofu plan
 * (`terraform show -json plan.out`, format_version 1.x, https://developer.hashicorp.com/terraform/internals/json-format)
 * or of a CloudFormation change set (`aws cloudformation describe-change-set`, audits/plan/cfn-change-set.ts).
 * Whatever cannot be gated is an input problem, named with the file and the field and what to
 * run instead: an empty file, a binary plan given instead of its JSON, a state instead of a plan,
 * a format version driftless does not read, a plan that errored or is incomplete, a plan that
 * says neither what changes nor that nothing does. No value of the file is ever quoted in a
 * message: plans carry secrets in clear (marked sensitive, but present).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import type { PlanFile } from '../../core/config.ts';
import { ConfigInvalidError } from '../../core/errors.ts';
import { isChangeSet, readChangeSet } from './cfn-change-set.ts';

/** Actions as Terraform names them: ["update"] in place, ["delete","create"] / ["create","delete"] a replacement. */
export type Action = 'no-op' | 'create' | 'read' | 'update' | 'delete' | 'forget';

/** One resource change of a plan, in Terraform's terms (a change set's are mapped onto them). */
export interface ResourceChange {
  /** The resource's address (a change set: its logical id); a deposed object's has " (deposed <key>)". */
  address: string;
  type: string;
  actions: Action[];
  /** The values before and after, with Terraform's marks: unknown after apply, sensitive before and after. */
  before: unknown;
  after: unknown;
  afterUnknown: unknown;
  beforeSensitive: unknown;
  afterSensitive: unknown;
  /** Paths whose change forces the replacement (Terraform's replace_paths), rendered. */
  replacePaths?: string[];
  /** Why Terraform replaces it (replace_because_cannot_update, replace_because_tainted, replace_by_request, replace_by_triggers). */
  actionReason?: string;
  /**
   * A change set's own findings: the properties that change (no values: a change set has none),
   * and whether the replacement is only Conditional (CloudFormation cannot tell before it runs).
   */
  changedProperties?: Array<{ path: string; replacement: 'Always' | 'Conditionally' | 'Never' | 'Unknown' }>;
  conditional?: boolean;
  /**
   * A change set's Auto Scaling group: the UpdatePolicy its context after the change carries (an
   * AutoScalingRollingUpdate or a replacing one replaces the instances when the launch template
   * changes), none, or unknown (the change set was described without --include-property-values).
   */
  updatePolicy?: 'AutoScalingRollingUpdate' | 'AutoScalingReplacingUpdate' | 'none' | 'unknown';
  /**
   * Every value the plan marks sensitive anywhere (a resource's marked values, a sensitive
   * variable's): never shown, also where the plan repeats one without its mark (terraform_data's
   * output of a sensitive input is one). Shared by every change of a plan.
   */
  secrets: readonly string[];
}

export interface PlanDoc {
  /** The fleet name: the file's path relative to the working directory. */
  name: string;
  file: string;
  sha256: string;
  format: 'terraform' | 'cloudformation';
  /** What made it, in words ("Terraform 1.11.4, plan format 1.2"). */
  madeBy: string;
  /** The managed resources' changes (data sources only read). */
  changes: ResourceChange[];
  /** Set when the plan says explicitly that it changes nothing: how it says so. */
  noChanges?: string;
}

export type PlanRead = { doc: PlanDoc } | { problems: string[] };

const SUPPORTED_MAJOR = 1;
const DEPOSED = (key: string) => ` (deposed ${key})`;

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** `name: /pointer: message`, as config problems read. */
export const planProblem = (name: string, pointer: string, message: string) => `${name}: ${pointer || '/'}: ${message}`;

/** The command that writes a plan's JSON: from the binary plan `name`, or into `name`. */
const SHOW_JSON = (name: string, binary = false) =>
  binary
    ? `terraform show -json ${name} > ${name.replace(/\.(out|plan|tfplan)$/i, '')}.json (or tofu show -json)`
    : `terraform show -json plan.out > ${name} (or tofu show -json)`;

/** Where JSON.parse failed, without quoting the file (V8's message may). */
function syntaxError(text: string): string {
  const errors: ParseError[] = [];
  parseJsonc(text, errors, { allowTrailingComma: false, disallowComments: true });
  const first = errors[0];
  if (!first) return 'JSON syntax error';
  const before = text.slice(0, first.offset);
  const line = before.split('\n').length;
  return `JSON syntax error at line ${line}, column ${first.offset - (before.lastIndexOf('\n') + 1) + 1}`;
}

/** Parses a plan file's bytes: a plan, or every problem that keeps it from being gated. */
export function parsePlan(bytes: Buffer, pf: PlanFile): PlanRead {
  const { name } = pf;
  const bad = (pointer: string, message: string): PlanRead => ({ problems: [planProblem(name, pointer, message)] });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length === 0 || bytes.toString('utf8').trim() === '')
    return bad('', `the file is empty: nothing says what the plan changes; write the plan's JSON into it: ${SHOW_JSON(name)}`);
  if (bytes.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04])))
    return bad('', `this is a binary plan file (a zip archive), not its JSON: ${SHOW_JSON(name, true)}, and give driftless the .json`);
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    const firstLine = text.split('\n', 1)[0] ?? '';
    if (/^\s*\{.*"@level"/.test(firstLine))
      return bad('', `this is the streamed log of \`terraform plan -json\`, not a plan: save the plan (terraform plan -out=plan.out), then ${SHOW_JSON(name)}`);
    return bad('', `${syntaxError(text)}: not the JSON of a plan (${SHOW_JSON(name)})`);
  }
  if (!isObject(data)) return bad('', `not the JSON of a plan: a plan is a JSON object with format_version and resource_changes (${SHOW_JSON(name)})`);
  if (isChangeSet(data)) return readChangeSet(data, { ...pf, sha256 });
  return readTerraform(data, { ...pf, sha256 });
}

function readTerraform(data: Record<string, unknown>, pf: PlanFile & { sha256: string }): PlanRead {
  const { name } = pf;
  const problems: string[] = [];
  const bad = (pointer: string, message: string) => problems.push(planProblem(name, pointer, message));
  // A state, not a plan: `terraform show -json` without a plan file, or terraform.tfstate itself.
  if ('lineage' in data && 'serial' in data) return { problems: [planProblem(name, '', `this is a Terraform state file, not a plan: ${SHOW_JSON(name)}`)] };
  const fv = data.format_version;
  if (fv === undefined)
    return {
      problems: [
        planProblem(name, '/format_version', `missing: not the JSON of a Terraform/OpenTofu plan (${SHOW_JSON(name)}, or a CloudFormation change set)`),
      ],
    };
  const major = typeof fv === 'string' && /^\d+\.\d+$/.test(fv) ? Number(fv.split('.')[0]) : NaN;
  if (major !== SUPPORTED_MAJOR)
    return {
      problems: [
        planProblem(
          name,
          '/format_version',
          `unsupported plan format version ${typeof fv === 'string' ? JSON.stringify(fv.slice(0, 20)) : `(${typeof fv})`}: driftless reads format 1.x, what Terraform and OpenTofu 1.x write; make the plan's JSON with one of those`,
        ),
      ],
    };
  if ('values' in data && !('resource_changes' in data) && !('planned_values' in data))
    return { problems: [planProblem(name, '', `this is the JSON of a state (terraform show -json without a plan file), not of a plan: ${SHOW_JSON(name)}`)] };
  if (data.errored === true)
    bad('/errored', 'the plan errored: Terraform could not finish planning, so it does not say everything the apply would do; fix the errors and plan again');
  if (data.complete === false)
    bad('/complete', 'the plan is incomplete (some changes are deferred to a later plan): gate each plan of the rollout once it is complete');
  const rc = data.resource_changes;
  if (rc !== undefined && !Array.isArray(rc)) bad('/resource_changes', 'must be a list of resource changes');
  const changes: ResourceChange[] = [];
  const secrets = sensitiveVariables(data);
  (Array.isArray(rc) ? rc : []).forEach((c: unknown, i) => {
    const at = `/resource_changes/${i}`;
    if (!isObject(c) || typeof c.address !== 'string' || typeof c.type !== 'string' || !isObject(c.change) || !Array.isArray(c.change.actions)) {
      bad(at, 'not a resource change (address, type, change.actions)');
      return;
    }
    if (c.mode === 'data') return; // a data source is read, never changed
    const ch = c.change;
    const actions = (ch.actions as unknown[]).map(String);
    const known = ['no-op', 'create', 'read', 'update', 'delete', 'forget'];
    const unknownAction = actions.find((a) => !known.includes(a));
    if (unknownAction !== undefined) {
      bad(`${at}/change/actions`, `unknown action ${JSON.stringify(unknownAction.slice(0, 20))}: this driftless knows ${known.join(', ')}`);
      return;
    }
    changes.push({
      address: c.address + (typeof c.deposed === 'string' ? DEPOSED(c.deposed) : ''),
      type: c.type,
      actions: actions as Action[],
      before: ch.before ?? null,
      after: ch.after ?? null,
      afterUnknown: ch.after_unknown ?? {},
      beforeSensitive: ch.before_sensitive ?? {},
      afterSensitive: ch.after_sensitive ?? {},
      ...(Array.isArray(ch.replace_paths) ? { replacePaths: (ch.replace_paths as unknown[]).map(renderPath) } : {}),
      ...(typeof c.action_reason === 'string' ? { actionReason: c.action_reason } : {}),
      secrets,
    });
    markedValues(ch.before, ch.before_sensitive, secrets);
    markedValues(ch.after, ch.after_sensitive, secrets);
  });
  if (problems.length) return { problems };
  const changing = changes.filter((c) => !isNoOp(c));
  let noChanges: string | undefined;
  if (changing.length === 0) {
    // "No changes" only when the plan says so: a complete plan, or one that lists its resources as no-op.
    const n = `${changes.length} resource${changes.length === 1 ? '' : 's'}`;
    if (data.complete === true) noChanges = `the plan is complete and changes nothing (${n} unchanged)`;
    else if (changes.length > 0) noChanges = `every one of its ${n} is unchanged (no-op)`;
    else
      return {
        problems: [
          planProblem(
            name,
            '/resource_changes',
            'the plan is empty: it lists no resource change and does not say it is complete (`"complete": true`), so it says neither what changes nor that nothing does; ' +
              `plan with Terraform 1.8 or later (or OpenTofu) and ${SHOW_JSON(name)}`,
          ),
        ],
      };
  }
  const tv = typeof data.terraform_version === 'string' ? data.terraform_version.slice(0, 40) : 'unknown';
  return {
    doc: {
      name,
      file: pf.file,
      sha256: pf.sha256,
      format: 'terraform',
      madeBy: `Terraform/OpenTofu ${tv}, plan format ${String(fv)}`,
      changes,
      ...(noChanges ? { noChanges } : {}),
    },
  };
}

/** The values of the variables the configuration declares sensitive (the plan lists their values in clear). */
function sensitiveVariables(data: Record<string, unknown>): string[] {
  const out: string[] = [];
  const conf = isObject(data.configuration) && isObject(data.configuration.root_module) ? data.configuration.root_module : {};
  const declared = isObject(conf.variables) ? conf.variables : {};
  const given = isObject(data.variables) ? data.variables : {};
  for (const [k, v] of Object.entries(declared)) {
    const value = given[k];
    if (isObject(v) && v.sensitive === true && isObject(value)) markedValues(value.value, true, out);
  }
  return out;
}

/** Adds the leaves of `value` that `marks` call sensitive to `into` (strings and numbers of 4 characters or more: shorter ones are hidden by their marks alone). */
function markedValues(value: unknown, marks: unknown, into: string[]): void {
  if (marks === true) {
    const leaf = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(leaf);
      else if (isObject(v)) Object.values(v).forEach(leaf);
      else if ((typeof v === 'string' || typeof v === 'number') && String(v).length >= 4 && !into.includes(String(v))) into.push(String(v));
    };
    return leaf(value);
  }
  if (Array.isArray(value) && Array.isArray(marks)) value.forEach((v, i) => markedValues(v, marks[i], into));
  else if (isObject(value) && isObject(marks)) for (const [k, v] of Object.entries(value)) markedValues(v, marks[k], into);
}

export const isNoOp = (c: ResourceChange) => c.actions.every((a) => a === 'no-op' || a === 'read');

/** A path of replace_paths, as Terraform's UI writes it: root_block_device[0].volume_size. */
export function renderPath(p: unknown): string {
  const steps = Array.isArray(p) ? p : [p];
  return steps
    .map((s, i) =>
      typeof s === 'number' ? `[${s}]` : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(s)) ? `${i ? '.' : ''}${String(s)}` : `[${JSON.stringify(String(s))}]`,
    )
    .join('');
}

/** Reads and parses a plan file (its bytes hashed as read). */
export function readPlanFile(pf: PlanFile): PlanRead {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(pf.file);
  } catch (err) {
    return { problems: [planProblem(pf.name, '', `cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)] };
  }
  return parsePlan(bytes, pf);
}

/** Every plan file readable and gateable, or one ConfigInvalidError naming each problem (exit 2). */
export function checkPlanFiles(files: readonly PlanFile[]): PlanDoc[] {
  const docs: PlanDoc[] = [];
  const problems: string[] = [];
  for (const pf of files) {
    const r = readPlanFile(pf);
    if ('problems' in r) problems.push(...r.problems);
    else docs.push(r.doc);
  }
  if (problems.length) throw new ConfigInvalidError(problems.join('\n'));
  return docs;
}
