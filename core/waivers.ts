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
  /** Glob over resource addresses (a plan's resource changes; their fleet is the plan file); default every resource. */
  resource?: string;
  reason: string;
  approver: string;
  /** The last day it holds (inclusive), YYYY-MM-DD, UTC. */
  expires: string;
}

/**
 * Whether `name` matches `pattern`, where `*` is any run of characters (also none) and every other
 * character is itself. Greedy, going back only to the last star: O(pattern × name) at worst.
 * Not a regex: `^a.*a.*…b$` backtracks polynomially (a 12-star waiver took about 1 s per check at
 * 30 characters). Not picomatch either: it compiles to the same kind of regex (`a*a*…*b` against
 * 60 characters took minutes) and gives ?, [], {} and ! meanings the waiver format does not have.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1; // position of the last star seen in the pattern
  let from = 0; // where in the name the run that star matches ends
  while (n < name.length) {
    if (pattern[p] === '*') {
      star = p++;
      from = n;
    } else if (p < pattern.length && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (star >= 0) {
      p = star + 1; // let the last star take one more character
      n = ++from;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The waiver that covers a check, if any (the first listed wins). */
export function waiverFor(waivers: readonly Waiver[], check: { control: string; fleet: string; host?: string; resource?: string }): Waiver | undefined {
  // A glob that is given must match: a host waiver never covers a fleet-wide or resource check.
  const matches = (glob: string | undefined, name: string | undefined) => !glob || (name !== undefined && globMatch(glob, name));
  return waivers.find(
    (w) => w.control === check.control && matches(w.fleet, check.fleet) && matches(w.host, check.host) && matches(w.resource, check.resource),
  );
}

/** A waiver holds through the whole of its `expires` day (UTC). */
export function isExpired(w: Waiver, at: Date): boolean {
  return at.getTime() >= Date.parse(`${w.expires}T00:00:00Z`) + 24 * 3600 * 1000;
}

export function describeWaiver(w: Waiver): string {
  const scope =
    [w.fleet ? `fleet ${w.fleet}` : '', w.host ? `host ${w.host}` : '', w.resource ? `resource ${w.resource}` : ''].filter(Boolean).join(', ') || 'every host';
  return `${w.control} on ${scope}, approved by ${w.approver}, until ${w.expires}: ${w.reason}`;
}
