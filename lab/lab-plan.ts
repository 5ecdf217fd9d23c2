/**
 * The lab's shape: which containers, on which 127.0.0.1 ports, with which labels. Pure data,
 * so `lab up`, `lab status`, the lab config and the tests all agree on names and ports.
 */
import { UsageError } from '../core/errors.ts';
import { labStateDir } from '../core/paths.ts';

/** Below the kernel's ephemeral range (32768-60999 here), so no outgoing connection can take a lab port first. */
export const DEFAULT_PORT_BASE = 21000;
export const PORT_BASE_SETTING = 'DRIFTLESS_LAB_PORT_BASE (or `driftless lab up --port-base N`)';

export const IMAGES = {
  base: 'driftless-lab/base:bookworm',
  cattle: 'driftless-lab/web:cattle',
  snowflake: 'driftless-lab/web:snowflake',
  infra: 'driftless-lab/infra:1',
} as const;

/**
 * The images the lab's pipeline attests (lab/attest.ts): every image it builds. DL-IMG-020's
 * negative controls (an image built by hand and declared in the release, another key, another
 * digest, another source, a corrupt bundle) are made by test/integration/provenance.test.ts.
 */
export const ATTESTED_IMAGES: readonly string[] = ['cattle', 'snowflake', 'infra'];

/** Labels every lab container carries; `lab down` removes exactly what has LAB_LABEL. */
export const LABELS = {
  lab: 'driftless.lab',
  role: 'driftless.lab.role',
  onDeath: 'driftless.lab.on-death',
  fleet: 'driftless.fleet',
  service: 'driftless.service',
  digest: 'driftless.image.digest',
  chaos: 'driftless.chaos',
  desired: 'driftless.fleet.desired',
  slot: 'driftless.slot',
  sshPort: 'driftless.port.ssh',
  httpPort: 'driftless.port.http',
} as const;

export type FleetName = 'cattle' | 'snowflake' | 'sticky';

/**
 * What `lab up` bind-mounts into every lab host under the scanned paths (each host's SSH host keys,
 * the auditor's authorized key): the lab's own, so they are in the lab's config
 * (policy.manifest.excludes), never in driftless's defaults; the tests and the bench use this list.
 */
export const LAB_MANIFEST_EXCLUDES = ['/etc/ssh/keys', '/etc/ssh/lab_authorized_keys'];

/**
 * Files of the lab's image the unprivileged login user (audit) cannot read: the golden manifest
 * compares them on metadata only (policy.manifest.metadataOnly in the lab config; the tests and
 * the bench use this list in the configs they write).
 */
export const LAB_METADATA_ONLY = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/sudoers',
  '/etc/sudoers.d',
  '/etc/security/opasswd',
  '/etc/.pwd.lock',
  '/var/lib/dpkg/lock',
  '/var/lib/dpkg/lock-frontend',
  '/var/lib/dpkg/triggers/Lock',
];

export interface HostSpec {
  name: string;
  fleet: FleetName;
  service: string;
  slot: number;
  sshPort: number;
  httpPort: number;
  /** Which lab image it runs. */
  image: 'cattle' | 'snowflake';
  readOnlyRoot: boolean;
  stateBackend: 'redis' | 'memory';
  /** What happens when it dies: a NEW container (the supervisor), the same one again, or nothing. */
  onDeath: 'replace' | 'restart' | 'none';
  chaosOptIn: boolean;
  desired: number;
  noNewPrivileges: boolean;
  /** Negative controls of the engine checks: a writable bind mount at this path, CAP_SYS_ADMIN, the engine's socket. */
  writableBind?: string;
  sysAdmin?: boolean;
  engineSocket?: boolean;
}

export interface LbSpec {
  name: string;
  fleet: FleetName;
  port: number;
  /** Sessions stick to one backend by client address (the sticky fleet). */
  sticky: boolean;
  backends: HostSpec[];
}

export interface LabPlan {
  dir: string;
  portBase: number;
  storePort: number;
  hosts: HostSpec[];
  lbs: LbSpec[];
  names: { store: string; supervisor: string; recorder: string };
}

/**
 * The fleets: cattle (compliant), snowflake (every violation driftless knows, one host or the
 * other), sticky (compliant but for state kept in memory behind a load balancer with session
 * affinity: only a kill of the replica that holds the state shows it). Ports: base + lb for the
 * load balancer, base + http + slot for a host's HTTP, base + http + 10 + slot for its sshd.
 */
const FLEETS: Array<{
  fleet: FleetName;
  size: number;
  lb: number;
  http: number;
  host: (slot: number) => Omit<HostSpec, 'name' | 'fleet' | 'service' | 'slot' | 'sshPort' | 'httpPort' | 'desired'>;
}> = [
  {
    fleet: 'cattle',
    size: 3,
    lb: 0,
    http: 10,
    host: () => ({ image: 'cattle', readOnlyRoot: true, stateBackend: 'redis', onDeath: 'replace', chaosOptIn: true, noNewPrivileges: true }),
  },
  {
    fleet: 'snowflake',
    size: 2,
    lb: 1,
    http: 30,
    host: (slot) => ({
      image: 'snowflake',
      readOnlyRoot: false,
      stateBackend: 'memory',
      chaosOptIn: true,
      noNewPrivileges: false,
      // dl-snowflake-1 is restarted in place and has a writable bind mount and CAP_SYS_ADMIN;
      // dl-snowflake-2 is never replaced and has the engine's socket.
      ...(slot === 1 ? { onDeath: 'restart' as const, writableBind: '/opt/app/uploads', sysAdmin: true } : { onDeath: 'none' as const, engineSocket: true }),
    }),
  },
  {
    fleet: 'sticky',
    size: 2,
    lb: 3,
    http: 50,
    host: () => ({ image: 'cattle', readOnlyRoot: true, stateBackend: 'memory', onDeath: 'replace', chaosOptIn: true, noNewPrivileges: true }),
  },
];

export const FLEET_SIZES: Record<FleetName, number> = Object.fromEntries(FLEETS.map((f) => [f.fleet, f.size])) as Record<FleetName, number>;

/** The lab's state directory (keys, known_hosts, release.json); DRIFTLESS_LAB_DIR moves it. */
export const labDir = labStateDir;

export function portBaseFrom(value: string | number | undefined): number {
  if (value === undefined || value === '') return DEFAULT_PORT_BASE;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1024 || n > 65000) {
    throw new UsageError(`lab port base "${value}" is not a port: ${PORT_BASE_SETTING} must be an integer from 1024 to 65000`);
  }
  return n;
}

export function makePlan(portBase = portBaseFrom(process.env.DRIFTLESS_LAB_PORT_BASE), dir = labDir()): LabPlan {
  const hosts: HostSpec[] = [];
  for (const f of FLEETS) {
    for (let slot = 1; slot <= f.size; slot++) {
      hosts.push({
        name: `dl-${f.fleet}-${slot}`,
        fleet: f.fleet,
        service: `${f.fleet}-web`,
        slot,
        httpPort: portBase + f.http + slot,
        sshPort: portBase + f.http + 10 + slot,
        desired: f.size,
        ...f.host(slot),
      });
    }
  }
  const lbs: LbSpec[] = FLEETS.map((f) => ({
    name: `dl-${f.fleet}-lb`,
    fleet: f.fleet,
    port: portBase + f.lb,
    sticky: f.fleet === 'sticky',
    backends: hosts.filter((h) => h.fleet === f.fleet),
  }));
  return { dir, portBase, storePort: portBase + 2, hosts, lbs, names: { store: 'dl-store', supervisor: 'dl-supervisor', recorder: 'dl-recorder' } };
}

/** Every port the lab listens on, with what it is for (for "port in use" messages). */
export function portsOf(plan: LabPlan): Array<{ port: number; what: string }> {
  return [
    ...plan.lbs.map((lb) => ({ port: lb.port, what: `${lb.fleet} load balancer` })),
    { port: plan.storePort, what: 'state store' },
    ...plan.hosts.flatMap((h) => [
      { port: h.httpPort, what: `${h.name} http` },
      { port: h.sshPort, what: `${h.name} ssh` },
    ]),
  ];
}
