/**
 * CloudFormation change sets (`aws cloudformation describe-change-set` JSON), read into the plan
 * suite's resource changes.
 */
import type { PlanFile } from '../../core/config.ts';
import type { PlanRead } from './plan-file.ts';

/** A describe-change-set document: its Changes and the change set's id or name. */
export function isChangeSet(data: Record<string, unknown>): boolean {
  return Array.isArray(data.Changes) && ('ChangeSetId' in data || 'ChangeSetName' in data);
}

export function readChangeSet(_data: Record<string, unknown>, pf: PlanFile & { sha256: string }): PlanRead {
  return { problems: [`${pf.name}: /: a CloudFormation change set: not read by this driftless yet`] };
}
