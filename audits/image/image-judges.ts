/** Judges the image audit, one judge per control, from the facts gathered per host. Pure. */
import { type CheckResult, json, type Judgement, text } from '../../core/check-result.ts';
import { traitsOf } from '../../providers/registry.ts';
import { declaredImage, runsImage } from '../declared-image.ts';
import type { Judges } from '../suite.ts';
import { START_GRACE_MS, under } from './compare.ts';
import { engineSocketMounts, userOf } from './engine-settings.ts';
import type { HostImageAudit } from './image-gather.ts';
import { judgeProvenance } from './provenance-judge.ts';
import { describeFinding, goldenView, judgeRuntime } from './runtime.ts';

type ContainerFacts = NonNullable<HostImageAudit['container']>;

const list = (xs: string[], n = 20) => (xs.length > n ? `${xs.slice(0, n).join(', ')} … (${xs.length} in all)` : xs.join(', '));

/** One judge per control of the image-integrity suite. */
export const IMAGE_JUDGES: Judges<'image-integrity', HostImageAudit> = {
  'DL-IMG-001': (j, a, _c, run) => judgeDeclaredImage(j, a, run.config.release.name),
  'DL-IMG-002': (j, a) => judgeDiff(j, a),
  'DL-IMG-003': (j, a) => judgeReadOnlyRoot(j, a),
  'DL-IMG-004': (j, a) => judgeNotRestarted(j, a),
  'DL-IMG-005': (j, a) => judgeNoExec(j, a),
  'DL-IMG-006': (j, a, _c, run) => judgeManifest(j, a, run.config.policy.manifest.metadataOnly),
  'DL-IMG-007': (j, a) => judgeAmi(j, a),
  'DL-IMG-008': (j, a) => judgeLaunch(j, a),
  'DL-IMG-010': (j, a, _c, run) => judgeWritableMounts(j, a, run.config.policy.ssh.writablePaths),
  'DL-IMG-011': (j, a) => judgePrivileged(j, a),
  'DL-IMG-012': (j, a) => judgeEngineSocket(j, a),
  'DL-IMG-013': (j, a) => judgeNoNewPrivileges(j, a),
  'DL-IMG-014': (j, a) => judgeNonRoot(j, a),
  'DL-IMG-015': (j, a) => judgeRootVolume(j, a),
  'DL-IMG-016': (j, a) => judgeMetadataTokens(j, a),
  'DL-IMG-020': (j, a) => judgeProvenance(j, a),
  'DL-IMG-017': (j, a, _c, run) => judgeOnlyImageRuns(j, a, run.config.policy.ssh.writablePaths),
};

function judgeDeclaredImage(j: Judgement, a: HostImageAudit, releaseName: string | undefined): CheckResult {
  const ec2 = traitsOf(a.provider).declaredImageField === 'ami';
  const running = ec2 ? a.image.ami : a.image.id;
  j.attach(
    json('image', {
      host: a.host,
      service: a.service,
      running,
      ref: a.image.ref,
      repoDigests: a.image.repoDigests ?? [],
      declared: a.declared ?? null,
      release: releaseName ?? null,
    }),
  );
  if (!running) return j.broken(`${a.host}: the provider did not say which ${ec2 ? 'AMI' : 'image'} it runs`);
  const digests = list(a.image.repoDigests ?? []) || 'none';
  if (!a.declared)
    return j.fail('undeclared-image', `image ${running} is not declared in the release (service ${a.service ?? '(none)'}); repo digests: ${digests}`);
  const want = declaredImage(a.declared, a.provider);
  if (!want) return j.broken(`the release declares no ${ec2 ? 'ami' : 'digest'} for service ${a.service}`);
  if (runsImage(a.image, want)) return j.pass();
  return ec2
    ? j.fail('wrong-image', `${a.host} runs AMI ${running}, the release declares ${want} (service ${a.service})`)
    : j.fail(
        'wrong-image',
        `${a.host} runs image ${running} (${a.image.ref ?? 'no tag'}; repo digests: ${digests}), the release declares ${want} for service ${a.service}`,
      );
}

function judgeDiff(j: Judgement, a: HostImageAudit): CheckResult {
  if (!a.diff || a.diff.error) return j.broken(a.diff?.error ?? `${a.host}: no filesystem diff was taken`);
  const d = a.diff;
  j.attach(json('filesystem diff', { host: a.host, drift: d.drift, driftCount: d.driftCount, ignored: d.ignored, writablePaths: d.writablePaths }));
  if (d.driftCount === 0) return j.pass();
  j.attach(text('drift', d.drift.map((x) => `${x.kind.padEnd(8)} ${x.path}`).join('\n')));
  return j.fail(
    'filesystem-drift',
    `${a.host} differs from its image outside the writable paths (${d.writablePaths.join(', ')}): ${d.driftCount} entries: ${list(d.drift.map((x) => `${x.kind} ${x.path}`))}`,
  );
}

function judgeReadOnlyRoot(j: Judgement, a: HostImageAudit): CheckResult {
  if (!a.container || a.container.error) return j.broken(a.container?.error ?? `${a.host}: not inspected`);
  j.attach(json('container', a.container));
  if (a.container.readonlyRootfs) return j.pass();
  return j.fail('writable-root', `${a.host} runs with a writable root filesystem (HostConfig.ReadonlyRootfs is false)`);
}

function judgeNotRestarted(j: Judgement, a: HostImageAudit): CheckResult {
  if (!a.container || a.container.error) return j.broken(a.container?.error ?? `${a.host}: not inspected`);
  if (!a.events || a.events.error) return j.broken(a.events?.error ?? `${a.host}: the engine's events were not read`);
  const c = a.container;
  const ev = a.events;
  const starts = ev.starts;
  // Every start moves StartedAt: a run that began well after creation is a later start.
  const startGapMs = Date.parse(c.startedAt ?? '') - Date.parse(c.created ?? '');
  j.attach(
    json('starts', {
      host: a.host,
      created: c.created,
      startedAt: c.startedAt,
      startGapMs,
      restartCount: c.restartCount,
      startEvents: starts,
      history: { since: ev.since, until: ev.until, complete: ev.complete },
    }),
  );
  const byEvents = ev.complete && starts.length > 1;
  const byStartTime = !ev.complete && startGapMs > START_GRACE_MS;
  if (!((c.restartCount ?? 0) > 0 || byEvents || byStartTime)) return j.pass();
  return j.fail(
    'restarted-in-place',
    `${a.host} was restarted in place, not replaced: RestartCount ${c.restartCount}, ` +
      (ev.complete
        ? `${starts.length} start events since it was created at ${c.created} (${starts.map((s) => s.time).join(', ')})`
        : `its current run began at ${c.startedAt}, ${Math.round(startGapMs / 1000)} s after it was created at ${c.created}`),
  );
}

function judgeNoExec(j: Judgement, a: HostImageAudit): CheckResult {
  if (!a.events || a.events.error) return j.broken(a.events?.error ?? `${a.host}: the engine's events were not read`);
  const ev = a.events;
  j.attach(
    json('exec events', {
      host: a.host,
      history: { since: ev.since, until: ev.until, complete: ev.complete, source: ev.source ?? 'the engine', ...(ev.logGap ? { logGap: ev.logGap } : {}) },
      execs: ev.execs,
      ...(ev.healthChecks ? { healthChecksSetAside: ev.healthChecks } : {}),
    }),
  );
  const creates = ev.execs.filter((e) => e.action.startsWith('exec_create'));
  const shown = (creates.length ? creates : ev.execs).map((e) => `${e.time} ${e.command ?? e.action}${e.execId ? ` (exec ${e.execId.slice(0, 12)})` : ''}`);
  if (ev.execs.length) {
    j.attach(text('exec commands', shown.join('\n')));
    return j.fail(
      'out-of-band-access',
      `${a.host} was entered out of band: ${creates.length || ev.execs.length} docker exec since ${ev.since}: ${list(shown, 5)}`,
    );
  }
  if (!ev.complete && ev.logGap) {
    return j.broken(
      `the engine's event log no longer reaches back to the creation of ${a.host} (Docker keeps only its last 256 events in memory), ` +
        `and the recorded log (targets[].docker.eventLog) does not prove it either: ${ev.logGap}`,
    );
  }
  if (!ev.complete) {
    return j.broken(
      `the engine's event log no longer reaches back to the creation of ${a.host} (Docker keeps only its last 256 events in memory): ` +
        `that nobody ran docker exec in it cannot be proven (the oldest of its events the engine still holds is after its creation at ${ev.since}). ` +
        "Fix: record the engine's events continuously from before the hosts are created with lab/images/infra/event-recorder.py under a service manager " +
        '(it writes the heartbeats that prove the log has no gap; a plain `docker events >> file` does not) and name the file in targets[].docker.eventLog, ' +
        'or switch DL-IMG-005 off with a reason in policy.disabledControls',
    );
  }
  return j.pass();
}

function judgeManifest(j: Judgement, a: HostImageAudit, metadataOnly: readonly string[]): CheckResult {
  // The endpoint answered as another host: nothing was read there in this host's name.
  if (a.manifest?.identity) {
    j.attach(json('login', { host: a.host, identity: a.manifest.identity }));
    return j.broken(`${a.manifest.identity.reason}: the golden manifest was not compared over SSH`);
  }
  if (!a.manifest || a.manifest.error || !a.manifest.result)
    return j.broken(`${a.host}: the golden manifest could not be compared: ${a.manifest?.error ?? 'not taken'}`);
  const m = a.manifest.result;
  j.attach(
    json('manifest', {
      host: a.host,
      expected: { source: m.expectedSource, filesystemDigest: m.expectedDigest, comparedDigest: m.comparedExpectedDigest, entries: m.entries.expected },
      actual: { login: m.login, filesystemDigest: m.actualDigest, comparedDigest: m.comparedActualDigest, entries: m.entries.actual, durationMs: m.durationMs },
      driftCount: m.driftCount,
      added: m.added,
      removed: m.removed,
      changed: m.changed,
    }),
  );
  for (const d of m.textDiffs) j.attach({ name: `diff ${d.path}`, contentType: 'text/x-diff', body: d.diff });
  if (m.couldNotRead.length) j.attach(json('could not read (compared on metadata only)', m.couldNotRead));
  const drift = [
    ...m.added.map((p) => `added ${p}`),
    ...m.removed.map((p) => `removed ${p}`),
    ...m.changed.map((c) => `changed ${c.path} (${c.fields.join(', ')})`),
  ];
  if (m.driftCount) {
    j.attach(text('drift', drift.join('\n')));
    return j.fail('manifest-drift', `${a.host} differs from its golden manifest (${m.expectedSource}): ${m.driftCount} entries: ${list(drift)}`);
  }
  // A directory that could not be listed hides whatever was added in it: no policy vouches for
  // that, only proof that its listing is the image's (unlisted.ts).
  const unlisted = m.unlisted;
  if (unlisted.length) j.attach(json('directories that could not be listed', unlisted));
  const unproven = unlisted.filter((u) => !u.provenBy);
  if (unproven.length) {
    const dirs = list(
      unproven.map((u) => `${u.path} on the ${u.side === 'actual' ? 'host' : u.side === 'expected' ? 'golden' : 'golden and host'} side (${u.notProven})`),
      5,
    );
    return j.broken(
      `${a.host}: ${unproven.length} directories could not be listed, so what was added in them cannot be seen: ${dirs}; ` +
        'policy.manifest.metadataOnly accepts unreadable contents, never an unlisted directory: audit as a user who can list them',
    );
  }
  // A file whose contents could not be read was compared on metadata only: that is a pass only
  // where the policy accepted it, by name.
  const vouched = [...metadataOnly, ...unlisted.map((u) => u.path)]; // proven directories: above
  const unvouched = m.couldNotRead.filter((u) => !vouched.some((p) => under(u.path, p))).map((u) => u.path);
  if (unvouched.length) {
    return j.broken(
      `${a.host}: ${unvouched.length} files could not be read by the login user, so their contents were not compared: ${list(unvouched)}; ` +
        'list them in policy.manifest.metadataOnly to accept a metadata-only comparison, or audit as a user who can read them',
    );
  }
  return j.pass();
}

function judgeAmi(j: Judgement, a: HostImageAudit): CheckResult {
  if (!a.ami || a.ami.error || !a.ami.info) return j.broken(a.ami?.error ?? `${a.host}: the AMI was not described`);
  const info = a.ami.info;
  j.attach(json('ami', info));
  if (info.exists && info.state === 'available') return j.pass();
  return j.fail(
    'ami-unavailable',
    `${a.host} runs AMI ${info.imageId}, which ${info.exists ? `is ${info.state ?? 'in an unknown state'}` : `does not exist${info.reason ? ` (${info.reason})` : ''}`}`,
  );
}

function judgeLaunch(j: Judgement, a: HostImageAudit): CheckResult {
  j.attach(json('launch', { host: a.host, launchedAt: a.launchedAt ?? null, deployedAt: a.declared?.deployedAt ?? null, service: a.service }));
  if (!a.declared) return j.broken(`service ${a.service ?? '(none)'} is not declared in the release: no deploy time to compare with (see DL-IMG-001)`);
  if (!a.declared.deployedAt) return j.broken(`the release declares no deployedAt for service ${a.service}`);
  if (!a.launchedAt) return j.broken(`EC2 did not report a launch time for ${a.host}`);
  if (Date.parse(a.launchedAt) >= Date.parse(a.declared.deployedAt)) return j.pass();
  return j.fail(
    'not-replaced-on-deploy',
    `${a.host} was launched at ${a.launchedAt}, before the release was deployed at ${a.declared.deployedAt}: not replaced on deploy`,
  );
}

/** What the engine says about how the container runs (CIS 5.6, 5.5, 5.32, 5.26, 4.1): its inspect facts, or why there are none. */
function engineFacts(j: Judgement, a: HostImageAudit): ContainerFacts | CheckResult {
  const c = a.container;
  if (!c || c.error || !c.mountDetails) return j.broken(c?.error ?? `${a.host}: not inspected`);
  j.attach(
    json('engine', { host: a.host, mounts: c.mountDetails, privileged: c.privileged, capAdd: c.capAdd, securityOpt: c.securityOpt, user: c.user || '(root)' }),
  );
  return c;
}
const isResult = (x: ContainerFacts | CheckResult): x is CheckResult => 'status' in x && 'evidence' in x;

function judgeWritableMounts(j: Judgement, a: HostImageAudit, writablePaths: readonly string[]): CheckResult {
  const c = engineFacts(j, a);
  if (isResult(c)) return c;
  const allowed = (d: string) => writablePaths.some((w) => under(d, w));
  const bad = c.mountDetails!.filter((m) => m.rw && !allowed(m.destination));
  if (!bad.length) return j.pass();
  return j.fail(
    'writable-mount',
    `${a.host} has writable mounts outside the writable paths (${writablePaths.join(', ')}): ${bad.map((m) => `${m.destination} (${m.type} from ${m.source})`).join(', ')}`,
  );
}

function judgePrivileged(j: Judgement, a: HostImageAudit): CheckResult {
  const c = engineFacts(j, a);
  if (isResult(c)) return c;
  const caps = (c.capAdd ?? []).map((x) => x.toUpperCase().replace(/^CAP_/, ''));
  if (c.privileged) return j.fail('privileged', `${a.host} runs privileged: anyone root inside can remount / read-write`);
  if (caps.includes('SYS_ADMIN') || caps.includes('ALL'))
    return j.fail('privileged', `${a.host} has CAP_SYS_ADMIN (CapAdd: ${(c.capAdd ?? []).join(', ')}): anyone root inside can remount / read-write`);
  return j.pass();
}

function judgeEngineSocket(j: Judgement, a: HostImageAudit): CheckResult {
  const c = engineFacts(j, a);
  if (isResult(c)) return c;
  // By what the mount is (its source), not where it is mounted: see engine-settings.ts.
  const sock = engineSocketMounts(c.mountDetails!);
  if (!sock.length) return j.pass();
  return j.fail(
    'engine-socket',
    `${a.host} has the engine's socket mounted (${sock.map((m) => `${m.source} at ${m.destination}: ${m.why}`).join('; ')}): anyone inside can start a container as root on the host`,
  );
}

function judgeNoNewPrivileges(j: Judgement, a: HostImageAudit): CheckResult {
  const c = engineFacts(j, a);
  if (isResult(c)) return c;
  if ((c.securityOpt ?? []).some((o) => /^no-new-privileges(:true|=true)?$/.test(o))) return j.pass();
  return j.fail(
    'new-privileges',
    `${a.host} runs without no-new-privileges (SecurityOpt: ${(c.securityOpt ?? []).join(', ') || 'none'}): a setuid binary inside can gain privileges`,
  );
}

function judgeNonRoot(j: Judgement, a: HostImageAudit): CheckResult {
  const c = engineFacts(j, a);
  if (isResult(c)) return c;
  const user = userOf(c.user); // numerically: 00, +0 and 0:0 are root too
  if (!user.root) return j.pass();
  return j.fail('runs-as-root', `${a.host} runs as root: ${user.why}; policy.container.nonRoot asks for a non-root user`);
}

/** What EC2 says about the instance itself: its description, or why there is none. */
function instanceFacts(j: Judgement, a: HostImageAudit): NonNullable<HostImageAudit['instance']> | CheckResult {
  const i = a.instance;
  if (!i || i.error) return j.broken(i?.error ?? `${a.host}: the instance was not described`);
  j.attach(json('instance', { host: a.host, ...i }));
  return i;
}

function judgeRootVolume(j: Judgement, a: HostImageAudit): CheckResult {
  const i = instanceFacts(j, a);
  if ('status' in i && 'evidence' in i) return i;
  if (i.rootDeleteOnTermination === undefined)
    return j.broken(`EC2 did not say whether the root volume (${i.rootDevice ?? 'unknown device'}) of ${a.host} is deleted on termination`);
  if (i.rootDeleteOnTermination) return j.pass();
  return j.fail(
    'root-volume-kept',
    `${a.host}'s root volume ${i.rootDevice ?? ''} is kept when the instance terminates (DeleteOnTermination false): its state outlives it`,
  );
}

function judgeMetadataTokens(j: Judgement, a: HostImageAudit): CheckResult {
  const i = instanceFacts(j, a);
  if ('status' in i && 'evidence' in i) return i;
  if (!i.httpTokens) return j.broken(`EC2 did not report the metadata options of ${a.host}`);
  if (i.httpTokens === 'required' || i.httpEndpoint === 'disabled') return j.pass();
  return j.fail('metadata-v1', `${a.host} accepts instance metadata requests without a token (HttpTokens ${i.httpTokens}): require IMDSv2`);
}

/**
 * What runs must be the image (runtime.ts): judged from the process list read over SSH. A host
 * whose processes cannot be read at all, or whose /proc hides all but the login user's own, is
 * broken: an empty or partial list proves nothing.
 */
function judgeOnlyImageRuns(j: Judgement, a: HostImageAudit, writablePaths: readonly string[]): CheckResult {
  const rt = a.runtime;
  if (rt?.identity) {
    j.attach(json('login', { host: a.host, identity: rt.identity }));
    return j.broken(`${rt.identity.reason}: the processes were not read over SSH`);
  }
  if (!rt || rt.error || !rt.list) return j.broken(`${a.host}: no process list could be read: ${rt?.error ?? 'not read'}`);
  if (!rt.golden) return j.broken(`${a.host}: no golden manifest to judge its processes by`);
  const ps = rt.list;
  if (!ps.processes.length) return j.broken(`${a.host}: the process list as ${rt.login?.user ?? 'the login user'} is empty: nothing shows what runs`);
  const r = judgeRuntime(ps, goldenView(rt.golden), writablePaths);
  const how =
    `as ${rt.login?.user ?? 'the login user'} (uid ${ps.uid}) at ${rt.login?.address ?? '?'}: the command lines of ${r.commandLines} processes (/proc/<pid>/cmdline) ` +
    `and the executables of ${r.executables} (/proc/<pid>/exe, readlink and sha256; readable for the login user's own processes, or all as root), ` +
    `judged against the golden manifest ${rt.goldenSource ?? ''}; ${r.skipped} not judged (kernel threads, zombies). ` +
    'A command line is what a process says about itself: a hostile process can forge it.';
  j.attach(
    json('processes', {
      host: a.host,
      how,
      writablePaths: r.writable,
      processes: r.findings,
    }),
  );
  if (!r.pid1Visible) {
    return j.broken(
      `${a.host}: the login user ${rt.login?.user ?? ''} sees ${ps.processes.length} processes and not PID 1: /proc hides other users' processes (hidepid), ` +
        'so what else runs cannot be told; audit as a user who can see every process',
    );
  }
  if (r.failed.length) {
    const lines = r.failed.map((f) => describeFinding(f));
    j.attach(text('processes that are not the image', lines.join('\n')));
    return j.fail('foreign-code', `${a.host} runs code that is not part of its image: ${list(lines, 5)}`);
  }
  if (r.unverified.length) {
    const lines = r.unverified.map((f) => describeFinding(f, 'unverified'));
    return j.broken(`${a.host}: ${r.unverified.length} processes could not be tied to the image: ${list(lines, 5)}`);
  }
  return j.pass();
}
