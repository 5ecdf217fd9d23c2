/**
 * The one error hierarchy. Every failure a user can act on is a DriftlessError with a stable
 * `code` (for scripts and tickets, like undici's UND_ERR_*), the exit code the CLI returns, and a
 * message that names the thing that is wrong and the fix. docs/errors.md is generated from
 * ERROR_CLASSES below.
 */

export const ExitCode = {
  Compliant: 0,
  Violations: 1,
  Usage: 2,
  HarnessFailure: 3,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

interface ErrorClass {
  readonly code: string;
  readonly exitCode: ExitCodeValue;
  /** When it is thrown, in a user's words (docs/errors.md). */
  readonly when: string;
}

export abstract class DriftlessError extends Error {
  static readonly code: string = 'DL_ERROR';
  static readonly exitCode: ExitCodeValue = ExitCode.HarnessFailure;
  static readonly when: string = '';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
  /** Stable across releases: scripts and tickets may match on it. */
  get code(): string {
    return (this.constructor as unknown as ErrorClass).code;
  }
  get exitCode(): ExitCodeValue {
    return (this.constructor as unknown as ErrorClass).exitCode;
  }
}

/** Bad input: a flag, a path, an argument. Nothing was done to any target. */
export class UsageError extends DriftlessError {
  static override readonly code: string = 'DL_USAGE';
  static override readonly when: string = 'a flag, argument or path is wrong; nothing was done to any target';
  static override readonly exitCode: ExitCodeValue = ExitCode.Usage;
}

/** The config (or a file it names) cannot be used; the message has one line per problem. */
export class ConfigInvalidError extends UsageError {
  static override readonly code: string = 'DL_CONFIG_INVALID';
  static override readonly when: string = 'the config or a file it names cannot be used (one line per problem)';
}

/** The safety settings forbid the chaos experiment as asked (cap of zero, bad count or percent). */
export class ChaosSafetyError extends UsageError {
  static override readonly code: string = 'DL_CHAOS_UNSAFE';
  static override readonly when: string = 'the safety settings forbid the chaos experiment as asked';
}

/** Nothing in the fleet may be killed: no running host carries the opt-in label/tag. */
export class NoEligibleHostError extends UsageError {
  static override readonly code: string = 'DL_CHAOS_NO_ELIGIBLE_HOST';
  static override readonly when: string = 'no running host of the fleet is opted in to chaos';
  constructor(
    readonly fleet: string,
    optIn = 'label driftless.chaos=opt-in',
    detail = '',
  ) {
    super(`no host in fleet "${fleet}" opted in to chaos (${optIn}): nothing to kill${detail}; ` + `opt hosts in, or set chaos.dryRun: true to only report`);
  }
}

/** A provider was asked to do something it cannot (e.g. kill a static SSH host). */
export class UnsupportedOperationError extends UsageError {
  static override readonly code: string = 'DL_UNSUPPORTED';
  static override readonly when: string = 'the provider cannot do what was asked (e.g. kill a static SSH host)';
}

/** A port the lab needs is taken by something that is not the lab. */
export class PortInUseError extends UsageError {
  static override readonly code: string = 'DL_PORT_IN_USE';
  static override readonly when: string = 'a port the lab needs is taken by another program';
  constructor(port: number, what: string, setting: string) {
    super(`port ${port} on 127.0.0.1 (${what}) is already in use by another program: stop it, or move the lab's ports with ${setting}`);
  }
}

/** `driftless verify` has no public key to trust, or was given one it cannot trust (a private key, not a key). */
export class VerifyKeyError extends UsageError {
  static override readonly code: string = 'DL_VERIFY_KEY';
  static override readonly when: string =
    'driftless verify has no public key to trust (--key or report.verifyKey), or was given a private key or a file that is not an Ed25519 public key';
}

/** A fleet did not get back to its desired capacity in time (a finding, not a harness fault). */
export class CapacityTimeoutError extends DriftlessError {
  static override readonly code: string = 'DL_CAPACITY_TIMEOUT';
  static override readonly when: string = 'a fleet did not get back to its desired capacity in time';
  static override readonly exitCode: ExitCodeValue = ExitCode.Violations;
  constructor(fleet: string, desired: number, running: number, timeoutMs: number) {
    super(`fleet "${fleet}" did not get back to its desired capacity of ${desired} within ${timeoutMs / 1000} s (${running} running)`);
  }
}

/** The harness could not do its job; never a pass. */
export class HarnessError extends DriftlessError {
  static override readonly code: string = 'DL_HARNESS';
  static override readonly when: string = 'the harness could not do its job';
  static override readonly exitCode: ExitCodeValue = ExitCode.HarnessFailure;
}

/** No Docker engine answers on the socket the harness was told to use. */
export class EngineUnavailableError extends HarnessError {
  static override readonly code: string = 'DL_ENGINE_UNAVAILABLE';
  static override readonly when: string = 'no Docker engine answers';
  constructor(where: string, cause?: unknown) {
    super(
      `no Docker engine answers at ${where}: start one (as root on Debian: ` +
        `apt-get install -y docker.io && dockerd --iptables=false --ip6tables=false --bridge=none &), ` +
        `or point DOCKER_HOST at a running engine`,
      { cause },
    );
  }
}

/** The lab could not be built or started; the message says which step. */
export class LabError extends HarnessError {
  static override readonly code: string = 'DL_LAB';
  static override readonly when: string = 'the lab could not be built or started';
}

/** A cloud or engine API refused us (credentials, throttling after retries, not found). */
export class ProviderError extends HarnessError {
  static override readonly code: string = 'DL_PROVIDER';
  static override readonly when: string = 'a cloud or engine API refused a call';
}

/** Every attempt of an AWS call was throttled. */
export class ThrottlingExhaustedError extends ProviderError {
  static override readonly code: string = 'DL_AWS_THROTTLED';
  static override readonly when: string = 'every attempt of an AWS call was throttled';
  constructor(
    readonly attempts: number,
    readonly awsCode: string | undefined,
    readonly lastError: unknown,
  ) {
    super(`throttled (${awsCode ?? 'HTTP 429'}) on all ${attempts} attempts`, { cause: lastError });
  }
}

/** Why an SSH session could not be used; `kind` drives how an audit classifies the outcome. */
export type SshFailureKind =
  | 'host-key-mismatch'
  | 'host-key-unknown'
  | 'host-key-revoked'
  /** the server offers at least one authentication method and rejected ours: not a refusal */
  | 'auth-denied'
  /** the server offers no authentication method at all: every login is refused */
  | 'auth-refused'
  | 'unreachable'
  | 'timeout'
  | 'identity'
  /** the server ended the connection after key exchange (during authentication) */
  | 'closed'
  | 'closed-before-key-exchange'
  /** a command printed more than ssh.maxOutputMiB: it was stopped */
  | 'output-too-large'
  /** the endpoint answered, but is not proven to be the audited host (audits/endpoint-identity.ts) */
  | 'endpoint-identity'
  | 'protocol';

export class SshError extends HarnessError {
  static override readonly code: string = 'DL_SSH';
  static override readonly when: string = 'an SSH session could not be used (kind: host-key-mismatch, auth-denied, unreachable, timeout, closed, ...)';
  /** The authentication methods the server said can continue, when it said (auth-denied, auth-refused). */
  readonly offeredMethods?: string[];
  constructor(
    readonly kind: SshFailureKind,
    message: string,
    options?: { cause?: unknown; offeredMethods?: string[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.offeredMethods) this.offeredMethods = options.offeredMethods;
  }
}

/** A step of an SSH session did not finish by its deadline; the connection was torn down. */
export class SshTimeoutError extends SshError {
  static override readonly code: string = 'DL_SSH_TIMEOUT';
  static override readonly when: string = 'an SSH login, channel open or command did not finish by its deadline (the connection is closed)';
  constructor(
    readonly host: string,
    readonly operation: 'login' | 'channel open' | 'command',
    readonly timeoutMs: number,
    message: string,
  ) {
    super('timeout', message);
  }
}

/**
 * The SSH endpoint a host's labels or tags name could not be proven to be that host (another
 * container or instance answered there, or nothing ties it): none of its SSH checks ran.
 */
export class EndpointIdentityError<T = unknown> extends SshError {
  static override readonly code: string = 'DL_SSH_ENDPOINT_IDENTITY';
  static override readonly when: string =
    'the SSH endpoint of a host is not proven to be that host (its labels or tags point at another, or nothing ties it): none of its SSH checks ran';
  constructor(
    message: string,
    /** What was compared: the host's side and what the session read (audits/endpoint-identity.ts). */
    readonly identity: T,
  ) {
    super('endpoint-identity', message);
  }
}

/** A victim handed to the kill loop that the safety rules do not allow (not opted in, other fleet). */
export class IneligibleVictimError extends HarnessError {
  static override readonly code: string = 'DL_CHAOS_INELIGIBLE_VICTIM';
  static override readonly when: string = 'a victim the safety rules do not allow reached the kill loop';
}

/** The load generator could not send the requested rate: its numbers would understate the load. */
export class RateNotSustainedError extends HarnessError {
  static override readonly code: string = 'DL_LOAD_RATE_NOT_SUSTAINED';
  static override readonly when: string = 'the load generator could not send the requested rate';
  constructor(
    readonly requested: number,
    readonly achieved: number,
  ) {
    super(
      `requested ${fmtRate(requested)} req/s, achieved ${fmtRate(achieved)} req/s: ` +
        `lower chaos.load.rate (this client sustains about ${fmtRate(achieved)} req/s against this entrypoint)`,
    );
  }
}
const fmtRate = (r: number) => (r >= 100 ? String(Math.round(r)) : String(Math.round(r * 10) / 10));

/** A host's manifest stream could not be read (truncated, malformed, not what was asked). */
export class ManifestStreamError extends HarnessError {
  static override readonly code: string = 'DL_MANIFEST_STREAM';
  static override readonly when: string = "a host's manifest stream could not be read";
}

/** A team's check file does not load, or declares a control that does not validate: nothing is run. */
export class ChecksLoadError extends UsageError {
  static override readonly code: string = 'DL_CHECKS_LOAD';
  static override readonly when: string =
    'a check file (config `checks`) does not load, or its control() declaration is invalid: the file and line are named, nothing is touched';
}

/** A host's process list (what runs on it) could not be read, or was cut off. */
export class ProcessListError extends HarnessError {
  static override readonly code: string = 'DL_PROCESS_LIST';
  static override readonly when: string = "a host's process list could not be read over SSH (no sh, base64 or sha256sum there, or the output was cut off)";
}

/** The probe could not tell: the check is broken (never passed, never failed). */
export class ProbeError extends HarnessError {
  static override readonly code: string = 'DL_PROBE';
  static override readonly when: string = 'a probe could not tell: the check is broken';
  constructor(message: string) {
    super(`PROBE ERROR (the harness could not tell): ${message}`);
  }
}

/** A run's own files (run.json, results) are missing or not what this run wrote. */
export class RunContextError extends HarnessError {
  static override readonly code: string = 'DL_RUN_CONTEXT';
  static override readonly when: string = "a run's own files (run.json, results) are missing or belong to another run";
}

/** A file the harness writes does not match its own schema: a bug, reported as such. */
export class InternalError extends HarnessError {
  static override readonly code: string = 'DL_INTERNAL';
  static override readonly when: string = 'a file the harness writes does not match its own schema (a bug)';
}

/** Every class, for docs/errors.md and the uniqueness test. */
export const ERROR_CLASSES = [
  UsageError,
  ConfigInvalidError,
  ChecksLoadError,
  ChaosSafetyError,
  NoEligibleHostError,
  UnsupportedOperationError,
  PortInUseError,
  VerifyKeyError,
  CapacityTimeoutError,
  HarnessError,
  EngineUnavailableError,
  LabError,
  ProviderError,
  ThrottlingExhaustedError,
  SshError,
  SshTimeoutError,
  EndpointIdentityError,
  IneligibleVictimError,
  RateNotSustainedError,
  ManifestStreamError,
  ProcessListError,
  ProbeError,
  RunContextError,
  InternalError,
] as const;

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
