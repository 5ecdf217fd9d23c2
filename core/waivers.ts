/**
 * Waivers, as auditors know them from InSpec: an accepted exception to one control on some hosts
 * or fleets, with the reason, who approved it, and until when. A waived check is shown as waived
 * (never as passed), with its own outcome kept as evidence; an expired waiver is a violation and
 * says so; a waiver naming an unknown control is a config error.
 */

export interface Waiver {
  control: string;
  /** Glob over fleet names ("*" any run of characters); default every fleet. */
  fleet?: string;
  /** Glob over host ids; default every host (and fleet-wide checks). */
  host?: string;
  reason: string;
  approver: string;
  /** The last day it holds (inclusive), YYYY-MM-DD, UTC. */
  expires: string;
}

const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

/** The waiver that covers a check, if any (the first listed wins). */
export function waiverFor(waivers: readonly Waiver[], check: { control: string; fleet: string; host?: string }): Waiver | undefined {
  return waivers.find(
    (w) =>
      w.control === check.control && (!w.fleet || glob(w.fleet).test(check.fleet)) && (!w.host || (check.host !== undefined && glob(w.host).test(check.host))),
  );
}

/** A waiver holds through the whole of its `expires` day (UTC). */
export function isExpired(w: Waiver, at: Date): boolean {
  return at.getTime() >= Date.parse(`${w.expires}T00:00:00Z`) + 24 * 3600 * 1000;
}

export function describeWaiver(w: Waiver): string {
  const scope = [w.fleet ? `fleet ${w.fleet}` : '', w.host ? `host ${w.host}` : ''].filter(Boolean).join(', ') || 'every host';
  return `${w.control} on ${scope}, approved by ${w.approver}, until ${w.expires}: ${w.reason}`;
}
