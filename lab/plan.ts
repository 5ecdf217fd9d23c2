/**
 * The lab's shape: which containers, on which 127.0.0.1 ports, with which labels. Pure data,
 * so `lab up`, `lab status`, the lab config and the tests all agree on names and ports.
 */
import { UsageError } from '../core/errors.ts';
import { labStateDir } from '../core/paths.ts';

export const DEFAULT_PORT_BASE = 42000;
export const PORT_BASE_SETTING = 'DRIFTLESS_LAB_PORT_BASE (or `driftless lab up --port-base N`)';

export const IMAGES = {
  base: 'driftless-lab/base:bookworm',
  cattle: 'driftless-lab/web:cattle',
  snowflake: 'driftless-lab/web:snowflake',
  infra: 'driftless-lab/infra:1',
} as const;

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

export type FleetName = 'cattle' | 'snowflake';

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
  image: string;
  readOnlyRoot: boolean;
  stateBackend: 'redis' | 'memory';
  onDeath: 'replace' | 'restart';
  chaosOptIn: boolean;
  desired: number;
}

export interface LbSpec {
  name: string;
  fleet: FleetName;
  port: number;
  backends: HostSpec[];
}

export interface LabPlan {
  dir: string;
  portBase: number;
  storePort: number;
  hosts: HostSpec[];
  lbs: LbSpec[];
  names: { store: string; supervisor: string };
}

export const FLEET_SIZES: Record<FleetName, number> = { cattle: 3, snowflake: 2 };

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
  for (const fleet of ['cattle', 'snowflake'] as const) {
    const n = FLEET_SIZES[fleet];
    const off = fleet === 'cattle' ? 10 : 30;
    for (let slot = 1; slot <= n; slot++) {
      hosts.push({
        name: `dl-${fleet}-${slot}`,
        fleet,
        service: `${fleet}-web`,
        slot,
        httpPort: portBase + off + slot,
        sshPort: portBase + off + 10 + slot,
        image: IMAGES[fleet],
        readOnlyRoot: fleet === 'cattle',
        stateBackend: fleet === 'cattle' ? 'redis' : 'memory',
        onDeath: fleet === 'cattle' ? 'replace' : 'restart',
        chaosOptIn: fleet === 'cattle',
        desired: n,
      });
    }
  }
  const lbs: LbSpec[] = (['cattle', 'snowflake'] as const).map((fleet, i) => ({
    name: `dl-${fleet}-lb`,
    fleet,
    port: portBase + i,
    backends: hosts.filter((h) => h.fleet === fleet),
  }));
  return { dir, portBase, storePort: portBase + 2, hosts, lbs, names: { store: 'dl-store', supervisor: 'dl-supervisor' } };
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
