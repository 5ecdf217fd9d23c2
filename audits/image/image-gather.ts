/**
 * The image integrity audit of whole fleets, done once per run: for every host, what its
 * provider says it runs (engine inspect, events and diff; or the AMI), and its golden manifest
 * compared with what is actually on the host, read OVER SSH (never `docker exec` into an audited
 * host: that would itself be out-of-band access, and DL-IMG-005 would flag the harness).
 *
 * Per host, the engine's event history is read BEFORE anything else touches the host.
 * Results are JSON-safe facts; audits/image/image-judges.ts turns them into check results.
 */
import fs from 'node:fs';
import type { Config, ReleaseService, Target } from '../../core/config.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { ConfigInvalidError, EndpointIdentityError, errorMessage, ManifestStreamError } from '../../core/errors.ts';
import type { FleetSnapshot, SnapshotHost } from '../../core/inventory.ts';
import type { PlannedCheck } from '../../core/run-plan.ts';
import { type Manifest, MANIFEST_DEFAULTS, remoteManifestShellLine, shQuote, validateManifest } from '../../probes/manifest.ts';
import { PROCESS_LIST_COMMAND, parseProcessList, type ProcessList } from '../../probes/processes.ts';
import { SshSession } from '../../probes/ssh.ts';
import type { AmiFacts, ContainerFacts, EventFacts, ImageSource, InstanceFacts, Provider } from '../../providers/provider.ts';
import { sshLoginFor } from '../../providers/ssh-login.ts';
import { classifyChanges, type DiffKind, type ManifestComparison, smallChangedFiles, unifiedDiff } from './compare.ts';
import { compareWithGolden, compileGolden, type GoldenManifest } from './golden.ts';
import { declaredFor } from './image-plan.ts';
import { type EngineView, proveListings, type UnlistedDir } from './unlisted.ts';
import { runsImage } from '../declared-image.ts';
import { type EndpointIdentity, requireEndpoint } from '../endpoint-identity.ts';
import { control } from '../../core/controls.ts';
import type { ProvenanceFacts } from './provenance.ts';
import { gatherProvenance, loadTrustedKeys } from './provenance-gather.ts';

/** At most this many paths are kept per list in the result (the count is always exact). */
const MAX_LISTED = 500;
const MANIFEST_TIMEOUT_MS = 180_000;

export interface ManifestAudit extends ManifestComparison {
  /** Where the golden manifest came from: the release's manifest file, or the declared image. */
  expectedSource: string;
  expectedDigest: string;
  actualDigest: string;
  /** Who logged in where, and what proved the endpoint is this host (audits/endpoint-identity.ts). */
  login: { user: string; address: string; hostKey: string; identity?: EndpointIdentity };
  command: string;
  durationMs: number;
  entries: { expected: number; actual: number };
  /** Unified diffs of small changed text files (image vs host), where both could be read. */
  textDiffs: Array<{ path: string; diff: string }>;
  /** Directories one side could not list, each proven the image's by the engine, or not. */
  unlisted: UnlistedDir[];
  stderr?: string;
}

export interface HostImageAudit {
  host: string;
  fleet: string;
  provider: Target['provider'];
  instanceId: string;
  service?: string;
  /** The release's entry for this host's service; undefined: not declared. */
  declared?: ReleaseService;
  image: SnapshotHost['image'];
  launchedAt?: string;
  container?: ContainerFacts;
  diff?: {
    error?: string;
    drift: Array<{ path: string; kind: DiffKind }>;
    driftCount: number;
    ignored: Array<{ path: string; kind: DiffKind; why: string }>;
    writablePaths: string[];
  };
  events?: EventFacts;
  /** identity: set when the SSH endpoint was not proven to be this host (nothing was read there). */
  manifest?: { error?: string; skipped?: string; result?: ManifestAudit; identity?: EndpointIdentity };
  /** What runs on the host (DL-IMG-017): its process list, read in the manifest's session, and the golden manifest to judge it by. */
  runtime?: RuntimeFacts;
  ami?: AmiFacts;
  instance?: InstanceFacts;
  /** DL-IMG-020: the running image's attestation, verified (only with policy.provenance). */
  provenance?: ProvenanceFacts;
}

export interface RuntimeFacts {
  /** Why no process list was read (the manifest could not be had, the session failed). */
  error?: string;
  /** Set when the SSH endpoint was not proven to be this host: nothing was read there. */
  identity?: EndpointIdentity;
  list?: ProcessList;
  login?: { user: string; address: string };
  durationMs?: number;
  /** The golden manifest the processes are judged by (DL-IMG-006's), and where it came from. */
  golden?: Manifest;
  goldenSource?: string;
}

/** Golden manifests by source, each read (or scanned), validated and compiled once per audit. */
type Golden = Map<string, Promise<GoldenManifest>>;

/** A process list of a few hundred processes takes a few seconds (a few commands per process). */
const PROCESS_LIST_TIMEOUT_MS = 60_000;

/** Every process's command line, and its executable where the login user may read it (probes/processes.ts). */
async function readProcesses(session: SshSession, login: { user: string; address: string }): Promise<RuntimeFacts> {
  try {
    const r = await session.exec(PROCESS_LIST_COMMAND, PROCESS_LIST_TIMEOUT_MS);
    return { list: parseProcessList(r.stdout, r.stderr), login, durationMs: r.durationMs };
  } catch (err) {
    return { error: `the process list could not be read as ${login.user} at ${login.address}: ${errorMessage(err)}`, login };
  }
}

/** The golden manifest: the release's manifest file, or the declared image's (once per image). */
async function expectedManifest(
  declared: ReleaseService | undefined,
  service: string | undefined,
  images: ImageSource | undefined,
  golden: Golden,
  excludes: readonly string[],
): Promise<{ manifest: GoldenManifest; source: string }> {
  if (declared?.manifest) {
    const file = declared.manifest;
    // read and validated once per audit, not once per host
    if (!golden.has(`file:${file}`)) {
      golden.set(
        `file:${file}`,
        (async () => {
          const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
          const v = validateManifest(m);
          if (!v.ok) throw new ConfigInvalidError(`the release's manifest file ${file} is not a valid manifest: ${v.errors.slice(0, 3).join('; ')}`);
          return compileGolden(m);
        })(),
      );
    }
    return { manifest: await golden.get(`file:${file}`)!, source: `file:${file}` };
  }
  if (!declared?.digest)
    throw new ConfigInvalidError(`the release declares no image digest and no manifest for service ${service ?? '(none)'}: no golden manifest to compare with`);
  if (!images)
    throw new ConfigInvalidError(
      `the release names no manifest file for service ${service ?? '(none)'}, and this provider cannot read image ${declared.digest}`,
    );
  const digest = declared.digest;
  // What this deployment places in its hosts at start is its config's to say (policy.manifest.excludes).
  if (!golden.has(digest))
    golden.set(digest, images.manifest(digest, MANIFEST_DEFAULTS.paths, [...MANIFEST_DEFAULTS.excludes, ...excludes]).then(compileGolden));
  return { manifest: await golden.get(digest)!, source: `image:${digest}` };
}

async function manifestOverSsh(
  host: SnapshotHost,
  target: Target,
  golden: GoldenManifest,
  imageFile?: (file: string) => Promise<Buffer | undefined>,
  engine?: EngineView,
  /** Absent when no check owed on the host judges its processes (DL-IMG-017): they are not read. */
  onProcesses?: (r: RuntimeFacts) => void,
): Promise<Omit<ManifestAudit, 'expectedSource'>> {
  const st = sshLoginFor(host, target);
  if ('error' in st) throw new ConfigInvalidError(st.error);
  const session = await SshSession.connect(st);
  try {
    // The manifest of another host would be compared in this one's name: prove the endpoint first.
    const identity = await requireEndpoint(session, host, `${st.host}:${st.port}`);
    // What runs, first: a scan that fails later must not lose it.
    if (onProcesses) onProcesses(await readProcesses(session, { user: st.user, address: `${st.host}:${st.port}` }));
    const expected = golden.manifest;
    const r = await session.exec(remoteManifestShellLine(expected.paths, expected.excludes), MANIFEST_TIMEOUT_MS);
    // Walked against the compiled golden manifest: no manifest of the host is built (golden.ts).
    let compared;
    try {
      compared = compareWithGolden(golden, r.stdout, { label: `ssh:${st.user}@${st.host}:${st.port}` });
    } catch (err) {
      throw new ManifestStreamError(
        `${errorMessage(err)} (exit ${r.exitCode}${r.stderr.trim() ? `; stderr: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''})`,
        { cause: err },
      );
    }
    const cmp = compared.comparison;
    const textDiffs: ManifestAudit['textDiffs'] = [];
    if (imageFile) {
      for (const c of smallChangedFiles(cmp.changed)) {
        try {
          const want = await imageFile(c.path);
          const got = await session.exec(`cat -- ${shQuote(c.path)}`);
          if (!want || got.exitCode !== 0) continue;
          const diff = unifiedDiff(c.path, host.id, want, got.stdout);
          if (diff) textDiffs.push({ path: c.path, diff });
        } catch {
          // optional evidence: the drift itself is already recorded
        }
      }
    }
    return {
      expectedDigest: golden.digest,
      actualDigest: compared.actualDigest,
      login: { user: st.user, address: `${st.host}:${st.port}`, hostKey: session.hostKey, identity },
      command: "sh -c '{ <remoteManifestCommand(paths, excludes)>; } | dd (reblocked)'",
      durationMs: r.durationMs,
      entries: { expected: golden.size, actual: compared.actualEntries },
      ...cmp,
      added: cmp.added.slice(0, MAX_LISTED),
      removed: cmp.removed.slice(0, MAX_LISTED),
      changed: cmp.changed.slice(0, MAX_LISTED),
      couldNotRead: cmp.couldNotRead.slice(0, MAX_LISTED),
      unlisted: proveListings(cmp.unlisted, engine),
      textDiffs,
      ...(r.stderr.trim() ? { stderr: r.stderr.slice(-2000) } : {}),
    };
  } finally {
    session.close();
  }
}

async function auditManifest(
  host: SnapshotHost,
  target: Target,
  images: ImageSource | undefined,
  golden: Golden,
  res: HostImageAudit,
  excludes: readonly string[],
  engine: Pick<EngineView, 'changes' | 'mounts'> | undefined,
  readsProcesses: boolean,
): Promise<void> {
  try {
    const { manifest, source } = await expectedManifest(res.declared, res.service, images, golden, excludes);
    const reader = source.startsWith('image:') && images ? images.files(source.slice('image:'.length)) : undefined;
    // The engine's diff is against the image the container runs: a proof only if that is the
    // image the release declares (which the golden manifest, taken from it or a file, describes).
    const digest = res.declared?.digest;
    const view: EngineView | undefined = engine && {
      ...engine,
      runsDeclaredImage: digest !== undefined && runsImage(res.image, digest),
      image: digest ?? res.image.id ?? 'its image',
    };
    try {
      const onProcesses = readsProcesses ? (r: RuntimeFacts) => (res.runtime = { ...r, golden: manifest.manifest, goldenSource: source }) : undefined;
      res.manifest = { result: { expectedSource: source, ...(await manifestOverSsh(host, target, manifest, reader?.read, view, onProcesses)) } };
    } finally {
      await reader?.close();
    }
  } catch (err) {
    const identity = err instanceof EndpointIdentityError ? { identity: err.identity as EndpointIdentity } : {};
    res.manifest = { error: errorMessage(err), ...identity };
    res.runtime ??= { error: errorMessage(err), ...identity };
  }
}

async function auditHost(
  host: SnapshotHost,
  target: Target,
  provider: Provider,
  config: Config,
  golden: Golden,
  res: HostImageAudit,
  readsProcesses: boolean,
): Promise<void> {
  // 1. what the provider says (inspect, events, diff; or the AMI), 2. the manifest over SSH
  const facts = await provider.imageFacts(host);
  if (facts.kind === 'docker') {
    res.container = facts.container;
    if (facts.container.error) {
      const msg = facts.container.error;
      res.diff = { error: msg, drift: [], driftCount: 0, ignored: [], writablePaths: [] };
      res.events = { error: msg, since: '', until: '', complete: false, starts: [], execs: [] };
      res.manifest = { error: msg };
      res.runtime = { error: msg };
      return;
    }
    if (facts.events) res.events = facts.events;
    const writablePaths = config.policy.ssh.writablePaths.filter((p) => p.startsWith('/'));
    if (!facts.changes || facts.changes.error) {
      res.diff = { error: facts.changes?.error ?? `no filesystem diff of ${host.id} was taken`, drift: [], driftCount: 0, ignored: [], writablePaths };
    } else {
      const c = classifyChanges(facts.changes.list, { writablePaths, mounts: facts.container.mounts ?? [] });
      res.diff = { drift: c.drift.slice(0, MAX_LISTED), driftCount: c.drift.length, ignored: c.ignored.slice(0, MAX_LISTED), writablePaths };
    }
    // Every mount point, --tmpfs ones too: the engine's diff sees into none of them.
    const mountPoints = [...(facts.container.mounts ?? []), ...(facts.container.mountDetails ?? []).map((m) => m.destination)];
    await auditManifest(
      host,
      target,
      provider.images,
      golden,
      res,
      config.policy.manifest.excludes,
      { ...(facts.changes ? { changes: facts.changes } : {}), mounts: mountPoints },
      readsProcesses,
    );
  } else {
    if (facts.kind === 'ec2') {
      res.ami = facts.ami;
      res.instance = facts.instance;
    }
    if (res.declared?.manifest) await auditManifest(host, target, provider.images, golden, res, config.policy.manifest.excludes, undefined, readsProcesses);
  }
}

/**
 * Whether a check owed on (fleet, host) judges what runs (DL-IMG-017): only there is the process
 * list read. `host` is as the checks name it: a host, or the slot of the suites that audit what
 * came up (slots-gather.ts maps it to the slot's instances).
 */
export function processesOwed(owed: readonly PlannedCheck[]): (fleet: string, host: string) => boolean {
  const hosts = new Set(owed.filter((c) => c.control === 'DL-IMG-017').map((c) => `${c.fleet}/${c.host}`));
  return (fleet, host) => hosts.has(`${fleet}/${host}`);
}

export async function auditImages(
  fleets: Array<{ snapshot: FleetSnapshot; target: Target; provider: Provider }>,
  config: Config,
  onProgress: (done: number, total: number, last: HostImageAudit) => void = () => {},
  /** Whether a check owed on the host judges its processes (DL-IMG-017; `processesOwed`): reading them costs a command per host. */
  readsProcesses: (fleet: string, host: string) => boolean,
): Promise<HostImageAudit[]> {
  const golden: Golden = new Map();
  const keys = config.policy.provenance ? loadTrustedKeys(config) : undefined;
  const attested = control('DL-IMG-020').providers ?? [];
  const work = fleets.flatMap(({ snapshot, target, provider }) => snapshot.hosts.map((host) => ({ host, target, provider })));
  let done = 0;
  return mapLimit(work, config.policy.ssh.concurrency, async ({ host, target, provider }) => {
    const service = host.service ?? target.service;
    const declared = declaredFor(config, service);
    const res: HostImageAudit = {
      host: host.id,
      fleet: target.name,
      provider: target.provider,
      instanceId: host.instanceId,
      ...(service !== undefined ? { service } : {}),
      ...(declared ? { declared } : {}),
      image: host.image,
      ...(host.launchedAt ? { launchedAt: host.launchedAt } : {}),
    };
    // From files only, before the host is probed: the image it runs is the snapshot's.
    if (keys && attested.includes(target.provider)) res.provenance = gatherProvenance(host, service, declared, config, keys);
    try {
      await auditHost(host, target, provider, config, golden, res, readsProcesses(target.name, host.id));
    } catch (err) {
      res.manifest ??= { error: errorMessage(err) };
      res.runtime ??= { error: errorMessage(err) };
    }
    done++;
    onProgress(done, work.length, res);
    return res;
  });
}
