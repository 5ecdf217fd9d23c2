/**
 * What an audit concludes about one planned check: passed, failed (a violation, with its kind),
 * broken (the harness could not tell) or skipped (with the reason), and the evidence behind it.
 * Audits produce these; the suites turn each into one Allure result.
 */
import type { ViolationKind } from './categories.ts';

/**
 * skipped: not done by an explicit, recorded choice (a dry run): never compliant.
 * not-applicable: the judgement proved the check cannot apply to this host (the path it edits
 * does not exist there), and says why.
 */
export type CheckStatus = 'passed' | 'failed' | 'broken' | 'skipped' | 'not-applicable';

export interface Attachment {
  name: string;
  contentType: 'application/json' | 'text/plain' | 'text/x-diff' | 'image/svg+xml';
  body: string;
}

export interface CheckResult {
  /** PlannedCheck.id. */
  check: string;
  status: CheckStatus;
  /** Why it failed, broke or was skipped; the first line is what the verdict lists. */
  message?: string;
  /** For failed results: what kind of violation (its category follows from it). */
  violation?: ViolationKind;
  /** For failed results of a team's own control: its category by name (no built-in violation kind). */
  category?: string;
  /** A forbidden edit got through on this host during the audit. */
  tainted?: boolean;
  parameters?: Record<string, string>;
  evidence: Attachment[];
}

export const json = (name: string, value: unknown): Attachment => ({ name, contentType: 'application/json', body: JSON.stringify(value, null, 2) });
export const text = (name: string, body: string): Attachment => ({ name, contentType: 'text/plain', body });

/** Builds results step by step, the way a judgement reads: evidence first, then the finding. */
export class Judgement {
  private readonly evidence: Attachment[] = [];
  private readonly parameters: Record<string, string> = {};
  private tainted = false;
  constructor(private readonly check: string) {}

  attach(a: Attachment): this {
    this.evidence.push(a);
    return this;
  }

  param(name: string, value: string): this {
    this.parameters[name] = value;
    return this;
  }

  taint(): this {
    this.tainted = true;
    return this;
  }

  private done(status: CheckStatus, message?: string, violation?: ViolationKind): CheckResult {
    return {
      check: this.check,
      status,
      ...(message !== undefined ? { message } : {}),
      ...(violation ? { violation } : {}),
      ...(this.tainted ? { tainted: true } : {}),
      ...(Object.keys(this.parameters).length ? { parameters: { ...this.parameters } } : {}),
      evidence: this.evidence,
    };
  }

  pass(): CheckResult {
    return this.done('passed');
  }
  fail(violation: ViolationKind, message: string): CheckResult {
    return this.done('failed', message, violation);
  }
  /** A violation of a team's own control, filed under the category it declared. */
  failAs(category: string, message: string): CheckResult {
    return { ...this.done('failed', message), category };
  }
  /** The probe could not tell: never passed, never failed. */
  broken(message: string): CheckResult {
    return this.done('broken', message);
  }
  skip(reason: string): CheckResult {
    return this.done('skipped', reason);
  }
  notApplicable(reason: string): CheckResult {
    return this.done('not-applicable', reason);
  }
}
