/**
 * CloudFormation change sets (`aws cloudformation describe-change-set --include-property-values`
 * JSON, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html),
 * read into the plan suite's resource changes, in Terraform's terms: Add is a create, Remove a
 * delete, Modify with Replacement True a replacement (["create","delete"]: CloudFormation makes the
 * new one first), False an update in place, Conditional an update that may replace (`conditional`:
 * not proven either way unless plan.acceptConditional). Dynamic (CloudFormation cannot tell the
 * action) is conditional too. A change set has no values marked sensitive, so none of its values
 * is ever shown: only the names of the properties that change and whether they recreate it.
 */
import type { PlanFile } from '../../core/config.ts';
import type { Action, PlanRead, ResourceChange } from './plan-file.ts';

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const problem = (name: string, pointer: string, message: string) => `${name}: ${pointer || '/'}: ${message}`;

/** What CloudFormation says when a change set would change nothing (it fails the change set). */
const NO_CHANGES = /didn't contain changes|No updates are to be performed/i;
/** Resource attributes whose change alters what CloudFormation does, not the resource itself. */
const POLICY_ATTRIBUTES = new Set(['UpdatePolicy', 'CreationPolicy', 'DeletionPolicy', 'UpdateReplacePolicy']);
const DESCRIBE = (name: string) => `aws cloudformation describe-change-set --stack-name <stack> --change-set-name <name> --include-property-values > ${name}`;

/** A describe-change-set document: its Changes and the change set's id or name. */
export function isChangeSet(data: Record<string, unknown>): boolean {
  return Array.isArray(data.Changes) && ('ChangeSetId' in data || 'ChangeSetName' in data || 'StackId' in data);
}

/** The update policy a group's context after the change carries (its Properties and resource attributes), or why it is not known. */
function updatePolicyOf(after: unknown): ResourceChange['updatePolicy'] {
  if (typeof after !== 'string') return 'unknown';
  let ctx: unknown;
  try {
    ctx = JSON.parse(after);
  } catch {
    return 'unknown';
  }
  if (!isObject(ctx)) return 'unknown';
  const p = isObject(ctx.UpdatePolicy) ? ctx.UpdatePolicy : {};
  if (isObject(p.AutoScalingReplacingUpdate) && String(p.AutoScalingReplacingUpdate.WillReplace).toLowerCase() === 'true') return 'AutoScalingReplacingUpdate';
  if (isObject(p.AutoScalingRollingUpdate)) return 'AutoScalingRollingUpdate';
  return 'none';
}

export function readChangeSet(data: Record<string, unknown>, pf: PlanFile & { sha256: string }): PlanRead {
  const { name } = pf;
  const problems: string[] = [];
  const status = str(data.Status);
  const reason = str(data.StatusReason)?.slice(0, 300);
  let noChanges: string | undefined;
  if (status === 'FAILED' && reason && NO_CHANGES.test(reason)) noChanges = `CloudFormation made no change set: ${reason}`;
  else if (status !== 'CREATE_COMPLETE')
    problems.push(
      problem(
        name,
        '/Status',
        status === 'FAILED'
          ? `the change set failed${reason ? ` (${reason})` : ''}: it says nothing a deploy would do; fix it and create it again`
          : `the change set is ${status ?? 'of no status'}, not CREATE_COMPLETE: wait for it (aws cloudformation wait change-set-create-complete), then ${DESCRIBE(name)}`,
      ),
    );
  const exec = str(data.ExecutionStatus);
  if (status === 'CREATE_COMPLETE' && exec && exec !== 'AVAILABLE')
    problems.push(
      problem(
        name,
        '/ExecutionStatus',
        exec === 'UNAVAILABLE'
          ? 'the change set cannot be executed (UNAVAILABLE): gate the one that will be'
          : `the change set is ${exec}, not AVAILABLE: a gate judges a change set before it is executed`,
      ),
    );
  if (data.NextToken !== undefined && data.NextToken !== null)
    problems.push(problem(name, '/NextToken', 'only a page of the changes: describe the whole change set (the AWS CLI pages it unless --max-items is given)'));
  const changes: ResourceChange[] = [];
  (data.Changes as unknown[]).forEach((c, i) => {
    const at = `/Changes/${i}/ResourceChange`;
    if (!isObject(c) || c.Type !== 'Resource') return; // hook invocations and the like change no resource
    const rc = c.ResourceChange;
    if (!isObject(rc) || !str(rc.LogicalResourceId) || !str(rc.ResourceType) || !str(rc.Action)) {
      problems.push(problem(name, at, 'not a resource change (LogicalResourceId, ResourceType, Action)'));
      return;
    }
    const action = rc.Action as string;
    const replacement = str(rc.Replacement);
    let actions: Action[];
    let conditional = false;
    if (action === 'Add') actions = ['create'];
    else if (action === 'Remove') actions = ['delete'];
    else if (action === 'Import' || action === 'SyncWithActual') actions = ['no-op'];
    else if (action === 'Dynamic') [actions, conditional] = [['update'], true];
    else if (action === 'Modify' && replacement === 'True') actions = ['create', 'delete'];
    else if (action === 'Modify' && replacement === 'False') actions = ['update'];
    else if (action === 'Modify' && replacement === 'Conditional') [actions, conditional] = [['update'], true];
    else {
      problems.push(
        problem(
          name,
          `${at}/${action === 'Modify' ? 'Replacement' : 'Action'}`,
          `unknown ${action === 'Modify' ? 'Replacement' : 'Action'}: this driftless knows Add, Modify (True, False, Conditional), Remove, Import, Dynamic`,
        ),
      );
      return;
    }
    const changedProperties: NonNullable<ResourceChange['changedProperties']> = [];
    for (const d of Array.isArray(rc.Details) ? rc.Details : []) {
      const t = isObject(d) && isObject(d.Target) ? d.Target : undefined;
      if (!t) continue;
      const attribute = str(t.Attribute) ?? 'Properties';
      if (POLICY_ATTRIBUTES.has(attribute)) continue;
      const fromPath = str(t.Path)
        ?.replace(/^\/Properties\//, '')
        .split('/')[0];
      const path = attribute === 'Properties' ? (str(t.Name) ?? fromPath ?? '(a property)') : attribute;
      const recreation = str(t.RequiresRecreation);
      const r = recreation === 'Always' || recreation === 'Conditionally' || recreation === 'Never' ? recreation : 'Unknown';
      if (!changedProperties.some((p) => p.path === path && p.replacement === r)) changedProperties.push({ path, replacement: r });
    }
    changes.push({
      address: rc.LogicalResourceId as string,
      type: rc.ResourceType as string,
      actions,
      before: null,
      after: null,
      afterUnknown: {},
      beforeSensitive: {},
      afterSensitive: {},
      changedProperties,
      ...(conditional ? { conditional } : {}),
      ...(actions.includes('delete') && actions.includes('create')
        ? { replacePaths: changedProperties.filter((p) => p.replacement === 'Always' || p.replacement === 'Conditionally').map((p) => p.path) }
        : {}),
      ...(rc.ResourceType === 'AWS::AutoScaling::AutoScalingGroup' ? { updatePolicy: updatePolicyOf(rc.AfterContext) } : {}),
      secrets: [],
    });
  });
  if (problems.length) return { problems };
  if (!noChanges && changes.every((c) => c.actions.every((a) => a === 'no-op')))
    return {
      problems: [
        problem(name, '/Changes', `the change set lists no change, and CloudFormation did not say it has none (it fails such a change set): ${DESCRIBE(name)}`),
      ],
    };
  const set = str(data.ChangeSetName) ?? str(data.ChangeSetId) ?? 'unnamed';
  return {
    doc: {
      name,
      file: pf.file,
      sha256: pf.sha256,
      format: 'cloudformation',
      madeBy: `CloudFormation change set ${set.slice(0, 128)}${str(data.StackName) ? ` of stack ${str(data.StackName)!.slice(0, 128)}` : ''}`,
      changes,
      ...(noChanges ? { noChanges } : {}),
    },
  };
}
