/**
 * Every error a user can act on is a DriftlessError: it carries the exit code the CLI returns
 * and a message that names the thing that is wrong and the fix.
 */
export const ExitCode = {
  Compliant: 0,
  Violations: 1,
  Usage: 2,
  HarnessFailure: 3,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class DriftlessError extends Error {
  readonly exitCode: ExitCodeValue;
  constructor(message: string, exitCode: ExitCodeValue, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }
}

/** Bad input: a config file, a flag, a path. Nothing was done to any target. */
export class UsageError extends DriftlessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.Usage, options);
  }
}

/** No Docker engine answers on the socket the harness was told to use. */
export class EngineUnavailableError extends DriftlessError {
  constructor(where: string, cause?: unknown) {
    super(
      `no Docker engine answers at ${where}: start one (as root on Debian: ` +
        `apt-get install -y docker.io && dockerd --iptables=false --ip6tables=false --bridge=none &), ` +
        `or point DOCKER_HOST at a running engine`,
      ExitCode.HarnessFailure,
      { cause },
    );
  }
}

/** A port the lab needs is taken by something that is not the lab. */
export class PortInUseError extends DriftlessError {
  constructor(port: number, what: string, setting: string) {
    super(
      `port ${port} on 127.0.0.1 (${what}) is already in use by another program: ` +
        `stop it, or move the lab's ports with ${setting}`,
      ExitCode.Usage,
    );
  }
}

/** The lab could not be built or started; the message says which step. */
export class LabError extends DriftlessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.HarnessFailure, options);
  }
}

/** A provider was asked to do something it cannot (e.g. kill a static SSH host). */
export class UnsupportedOperationError extends DriftlessError {
  constructor(message: string) {
    super(message, ExitCode.Usage);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A fleet did not get back to its desired capacity in time. */
export class CapacityTimeoutError extends DriftlessError {
  constructor(fleet: string, desired: number, running: number, timeoutMs: number) {
    super(
      `fleet "${fleet}" did not get back to its desired capacity of ${desired} within ${timeoutMs / 1000} s (${running} running)`,
      ExitCode.Violations,
    );
  }
}

/** A cloud or engine API refused us (credentials, throttling after retries, not found). */
export class ProviderError extends DriftlessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.HarnessFailure, options);
  }
}
