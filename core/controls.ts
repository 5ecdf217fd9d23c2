/**
 * The controls registry: every check driftless can make, in one place. A control's id is stable
 * across runs (waivers, tickets and the trend refer to it); the suites, the run plan, the verdict
 * and docs/controls.md (generated: `npm run generate`) all read it from here.
 */
import type { ViolationKind } from './categories.ts';
import type { ProviderKind } from './inventory.ts';

export type SuiteName = 'ssh-edits' | 'image-integrity' | 'chaos';

export interface Control {
  id: string;
  /** A few words, for the report's features and the compliance matrix. */
  name: string;
  /** The check, per host or per fleet, in an auditor's words. */
  title: string;
  suite: SuiteName;
  /** Allure epic: the family of controls. */
  family: 'Immutability' | 'Image integrity' | 'Statelessness';
  /** One result per host, or one per fleet. */
  scope: 'host' | 'fleet';
  /** Kinds its judgement may record when it fails; the first is the usual one. */
  violations: readonly ViolationKind[];
  /** What a failure proves. */
  proves: string;
  /** Only hosts of these provider kinds get it (absent: any kind). */
  providers?: readonly ProviderKind[];
  /** When it is owed, in words, when that is not always. */
  when?: string;
  /** The CIS Docker Benchmark v1.6.0 recommendation it makes a gate of, where there is one. */
  cis?: string;
}

export const CONTROLS = [
  {
    id: 'DL-SSH-001',
    name: 'login refused',
    title: 'a login is refused',
    suite: 'ssh-edits',
    family: 'Immutability',
    scope: 'host',
    violations: ['mutable-host'],
    proves: 'anyone with the key can get a shell on a live server',
    when: 'policy.ssh.mode is forbidden',
  },
  {
    id: 'DL-SSH-010',
    name: 'no file added in place',
    title: 'creating a canary file (named with the run id) in each immutable path fails (EROFS, EACCES, EPERM)',
    suite: 'ssh-edits',
    family: 'Immutability',
    scope: 'host',
    violations: ['mutable-host', 'mutable-by-privilege', 'refused-but-changed', 'tainted'],
    proves:
      'files can be added in place: /etc, /usr/bin, /usr/lib, the app dir, cron.d, systemd units, the package database, ~/.ssh; a refusal by permissions (EACCES, EPERM) on a read-write mount only means a more privileged user can',
    when: 'policy.ssh.mode is read-only; one check per immutable path',
  },
  {
    id: 'DL-SSH-020',
    name: 'critical files not writable',
    title: 'opening each critical file for append (zero bytes written) fails',
    suite: 'ssh-edits',
    family: 'Immutability',
    scope: 'host',
    violations: ['mutable-host', 'mutable-by-privilege', 'refused-but-changed'],
    proves:
      "/etc/passwd, /etc/shadow, sshd_config or the app's entrypoint can be edited in place (by the login user, or, on a read-write mount, by a more privileged one)",
    when: 'policy.ssh.mode is read-only; one check per critical file',
  },
  {
    id: 'DL-SSH-030',
    name: 'modes not changeable',
    title: "changing a file's mode in /usr/bin fails (on a canary, or to the file's own current mode)",
    suite: 'ssh-edits',
    family: 'Immutability',
    scope: 'host',
    violations: ['mutable-host', 'tainted'],
    proves: 'permissions can be changed in place',
    when: 'policy.ssh.mode is read-only',
  },
  {
    id: 'DL-SSH-040',
    name: 'no privilege escalation',
    title: '`sudo -n true` fails, and the login user is not root',
    suite: 'ssh-edits',
    family: 'Immutability',
    scope: 'host',
    violations: ['mutable-host'],
    proves: 'the login user can escalate',
    when: 'policy.ssh.mode is read-only',
  },
  {
    id: 'DL-SSH-050',
    name: 'root not remountable',
    title: 'remounting / read-write fails',
    suite: 'ssh-edits',
    family: 'Immutability',
    scope: 'host',
    violations: ['mutable-host', 'tainted'],
    proves: 'the root filesystem can be made writable',
    when: 'policy.ssh.aggressive is true',
  },
  {
    id: 'DL-SSH-060',
    name: 'immutable paths on read-only mounts',
    title: 'every immutable path sits on a read-only mount, and no read-write mount lies at or under one (from /proc/self/mountinfo)',
    suite: 'ssh-edits',
    family: 'Immutability',
    scope: 'host',
    violations: ['writable-mount'],
    proves:
      'an immutable path is on a read-write filesystem: whoever has the permissions (root, the app) can change it in place, whatever refused the login user',
    when: 'policy.ssh.mode is read-only',
  },
  {
    id: 'DL-SSH-099',
    name: 'nothing left behind',
    title: 'no canary of this run remains on the host',
    suite: 'ssh-edits',
    family: 'Immutability',
    scope: 'host',
    violations: ['canary-left'],
    proves: 'the audit left something behind',
    when: 'policy.ssh.mode is read-only',
  },
  {
    id: 'DL-IMG-001',
    name: 'runs the declared image',
    title: 'the running image (Docker image id / repo digest, or AMI) is the one the release declares for its service',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['wrong-image', 'undeclared-image'],
    proves: 'wrong image, or an image the release never declared (reported with its digest)',
    providers: ['docker', 'ec2'],
  },
  {
    id: 'DL-IMG-002',
    name: 'no filesystem drift',
    title: "the engine's diff shows no added, changed or deleted path outside the allowed writable paths",
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['filesystem-drift'],
    proves: 'drift: the filesystem differs from the image (exact path list attached)',
    providers: ['docker'],
  },
  {
    id: 'DL-IMG-003',
    name: 'read-only root',
    title: 'the root filesystem is read-only',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['writable-root'],
    proves: 'the host can be changed in place',
    providers: ['docker'],
    cis: '5.13',
  },
  {
    id: 'DL-IMG-004',
    name: 'not restarted in place',
    title: 'the container was never restarted in place (restart count 0, one start event)',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['restarted-in-place'],
    proves: 'repaired in place, not replaced',
    providers: ['docker'],
  },
  {
    id: 'DL-IMG-005',
    name: 'no out-of-band access',
    title: 'no `docker exec` session into the container since it started',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['out-of-band-access'],
    proves: 'out-of-band access',
    providers: ['docker'],
  },
  {
    id: 'DL-IMG-006',
    name: 'golden manifest matches',
    title: "the golden file manifest computed on the host over SSH (hashing on the host) equals the image's",
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['manifest-drift'],
    proves: 'drift (added, removed, changed files; a unified diff of small text files)',
    when: 'docker hosts always; ec2 and ssh hosts when the release names a manifest for their service',
  },
  {
    id: 'DL-IMG-007',
    name: 'AMI available',
    title: 'the AMI exists and is available',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['ami-unavailable'],
    proves: 'the instance runs an AMI that is gone or unusable',
    providers: ['ec2'],
  },
  {
    id: 'DL-IMG-008',
    name: 'replaced on deploy',
    title: "the instance was launched after the release's `deployedAt`",
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['not-replaced-on-deploy'],
    proves: 'not replaced on deploy',
    providers: ['ec2'],
  },
  {
    id: 'DL-IMG-010',
    name: 'no writable mounts',
    title: 'no writable mount (bind, volume, tmpfs) at a path outside policy.ssh.writablePaths',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['writable-mount'],
    proves: 'a read-only root is bypassed: a writable mount lets the host be changed in place, and its content outlives the container',
    providers: ['docker'],
    cis: '5.6',
  },
  {
    id: 'DL-IMG-011',
    name: 'not privileged',
    title: 'the container is not privileged and has no CAP_SYS_ADMIN',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['privileged'],
    proves: 'anyone root inside can remount / read-write (or reach the host): the read-only root is not a guarantee',
    providers: ['docker'],
    cis: '5.5',
  },
  {
    id: 'DL-IMG-012',
    name: 'engine socket not mounted',
    title: "the engine's socket is not mounted into the container",
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['engine-socket'],
    proves: 'anyone inside can start a new container as root on the host: nothing about this fleet is immutable',
    providers: ['docker'],
    cis: '5.32',
  },
  {
    id: 'DL-IMG-013',
    name: 'no new privileges',
    title: 'no-new-privileges is set (no setuid escalation inside)',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['new-privileges'],
    proves: 'a process inside can gain privileges (setuid binaries) and with them the rights to change the host',
    providers: ['docker'],
    cis: '5.26',
  },
  {
    id: 'DL-IMG-014',
    name: 'non-root user',
    title: 'the container runs as a non-root user',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['runs-as-root'],
    proves: 'the main process runs as root: a compromise of it can change anything the mounts allow',
    providers: ['docker'],
    when: 'policy.container.nonRoot is true',
    cis: '4.1',
  },
  {
    id: 'DL-IMG-015',
    name: 'root volume deleted with the instance',
    title: "the instance's root volume is deleted when the instance terminates",
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['root-volume-kept'],
    proves: "a replaced instance's disk survives it: state outlives the instance, and it can be attached again",
    providers: ['ec2'],
  },
  {
    id: 'DL-IMG-016',
    name: 'IMDSv2 required',
    title: 'the instance metadata service requires tokens (IMDSv2)',
    suite: 'image-integrity',
    family: 'Image integrity',
    scope: 'host',
    violations: ['metadata-v1'],
    proves: "a request forged from inside (SSRF) can read the instance role's credentials and act on the fleet out of band",
    providers: ['ec2'],
  },
  {
    id: 'DL-CHAOS-001',
    name: 'no state lost',
    title: 'every key written through the entrypoint before the kill reads back unchanged after it',
    suite: 'chaos',
    family: 'Statelessness',
    scope: 'fleet',
    violations: ['state-lost'],
    proves: 'state lost: the fleet is not stateless',
    providers: ['docker', 'ec2'],
    when: 'the target has an entrypoint',
  },
  {
    id: 'DL-CHAOS-002',
    name: 'replaced, not repaired',
    title: "each victim is replaced by a NEW instance (new id, new start) running the release's digest",
    suite: 'chaos',
    family: 'Statelessness',
    scope: 'fleet',
    violations: ['not-replaced', 'restarted-in-place', 'wrong-image'],
    proves: 'restarted in place, not replaced; or the replacement runs another image',
    providers: ['docker', 'ec2'],
    when: 'the target has an entrypoint',
  },
  {
    id: 'DL-CHAOS-003',
    name: 'back at capacity in time',
    title: 'the fleet is back at desired capacity within `chaos.slo.recoverySeconds`',
    suite: 'chaos',
    family: 'Statelessness',
    scope: 'fleet',
    violations: ['slow-recovery'],
    proves: 'slow recovery',
    providers: ['docker', 'ec2'],
    when: 'the target has an entrypoint',
  },
  {
    id: 'DL-CHAOS-004',
    name: 'SLO held under chaos',
    title: 'error rate and p99 latency from the first kill to the end of the load stay within the SLO, and the abort threshold was not crossed',
    suite: 'chaos',
    family: 'Statelessness',
    scope: 'fleet',
    violations: ['slo-breach'],
    proves: 'SLO breach',
    providers: ['docker', 'ec2'],
    when: 'the target has an entrypoint',
  },
] as const satisfies readonly Control[];

export type ControlId = (typeof CONTROLS)[number]['id'];

const byId = new Map<string, Control>(CONTROLS.map((c) => [c.id, c]));

export function control(id: ControlId): Control {
  return byId.get(id)!;
}

export function isControlId(id: string): id is ControlId {
  return byId.has(id);
}

export function controlsOf(suite: SuiteName): Control[] {
  return CONTROLS.filter((c) => c.suite === suite);
}

export const SUITES: readonly SuiteName[] = ['ssh-edits', 'image-integrity', 'chaos'];

/** Allure feature of each suite: what the report groups the suite's results under. */
export const SUITE_FEATURE: Record<SuiteName, string> = {
  'ssh-edits': 'SSH edits',
  'image-integrity': 'Image integrity',
  chaos: 'Chaos',
};
