/**
 * What a failed or broken check means to an auditor: the categories of the report, in the order
 * they should be read, and the violation kinds a judgement may record, each filed under one.
 */

export const CATEGORIES = [
  { name: 'Mutable host', description: 'The host can be changed in place: a forbidden edit got through, or nothing stops one.' },
  { name: 'Drift', description: 'The filesystem differs from the image the host was started from.' },
  {
    name: 'Foreign code',
    description:
      'A process runs code that is not part of the image: a binary dropped into a writable path, a script run from one, an executable deleted or replaced since it started.',
  },
  { name: 'Wrong image', description: 'The host runs an image (digest, AMI) the release does not declare for it.' },
  {
    name: 'Unproven provenance',
    description:
      'Nothing signed proves the running image came out of the build pipeline from the source the release names: no attestation, or one that does not verify.',
  },
  {
    name: 'State lost',
    description:
      'Data written before an instance died was gone or changed after: the fleet is not stateless; or a plan replaces (destroys) a stateful resource.',
  },
  {
    name: 'Not replaced',
    description:
      'A dead or released instance was not replaced: it is gone and nothing took its place, or the fleet shrank; or a plan changes a launch template that never reaches the running instances.',
  },
  {
    name: 'Patched in place',
    description: 'A deploy changed running instances (exec, copy into, restart) instead of replacing them, or a plan updates compute in place.',
  },
  { name: 'Capacity dropped', description: 'A deploy took more of the fleet out of service at once than the minimum healthy share allows.' },
  { name: 'Restarted in place', description: 'A dead instance was started again in place (same instance), not replaced by a new one.' },
  { name: 'Slow recovery', description: 'The fleet was not back at its desired capacity by the deadline.' },
  { name: 'SLO breach', description: 'Errors or latency while instances died exceeded the SLO.' },
  { name: 'Out-of-band access', description: 'Someone entered a host outside the deploy path (docker exec).' },
  { name: 'Expired waiver', description: 'A waiver for a check has expired: renew it (with a reason and an approver) or fix what it excused.' },
  { name: 'Other violation', description: 'A failed check whose judgement named no kind: read its message.' },
  { name: 'Probe error', description: 'The harness could not tell (login failed, host unreachable, unreadable result): this host is NOT proven compliant.' },
] as const;

export type Category = (typeof CATEGORIES)[number]['name'];
export const CATEGORY_NAMES: readonly Category[] = CATEGORIES.map((c) => c.name);
export const PROBE_ERROR: Category = 'Probe error';
export const OTHER_VIOLATION: Category = 'Other violation';

/** Every kind of violation a judgement can record, and the category it is filed under. */
export const VIOLATION_CATEGORY = {
  'mutable-host': 'Mutable host',
  tainted: 'Mutable host',
  'writable-root': 'Mutable host',
  'canary-left': 'Mutable host',
  'mutable-by-privilege': 'Mutable host',
  'refused-but-changed': 'Mutable host',
  'writable-mount': 'Mutable host',
  privileged: 'Mutable host',
  'engine-socket': 'Mutable host',
  'new-privileges': 'Mutable host',
  'runs-as-root': 'Mutable host',
  'root-volume-kept': 'State lost',
  'metadata-v1': 'Out-of-band access',
  'out-of-band-access': 'Out-of-band access',
  'filesystem-drift': 'Drift',
  'manifest-drift': 'Drift',
  'foreign-code': 'Foreign code',
  'wrong-image': 'Wrong image',
  'undeclared-image': 'Wrong image',
  'ami-unavailable': 'Wrong image',
  'unattested-image': 'Unproven provenance',
  'state-lost': 'State lost',
  'restarted-in-place': 'Restarted in place',
  'not-replaced': 'Not replaced',
  'not-replaced-on-deploy': 'Not replaced',
  'patched-in-place': 'Patched in place',
  'updated-in-place': 'Patched in place',
  'template-not-rolled-out': 'Not replaced',
  'stateful-replaced': 'State lost',
  'capacity-dropped': 'Capacity dropped',
  'slow-recovery': 'Slow recovery',
  'slo-breach': 'SLO breach',
  'waiver-expired': 'Expired waiver',
} as const satisfies Record<string, Category>;

export type ViolationKind = keyof typeof VIOLATION_CATEGORY;

export function isViolationKind(s: string): s is ViolationKind {
  return Object.hasOwn(VIOLATION_CATEGORY, s);
}
