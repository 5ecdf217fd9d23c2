/** Small statistics for repeated measurements: the machines are noisy, so keep every sample. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { n: s.length, median: round(median), min: round(s[0]!), max: round(s[s.length - 1]!), samples: samples.map((x) => round(x)) };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** a / b, rounded to 2 decimals (a ratio of medians measured in the same run). */
export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : round(a / b, 2);
}

/** A ratio for a table: NaN (a zero denominator, e.g. CPU under the clock's 10 ms) is null once in JSON; both show as —. */
export const times = (x: number | null | undefined, digits = 2) => (x == null || !Number.isFinite(x) ? '—' : `${x.toFixed(digits)}×`);

/** Wall time of an async function in seconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { seconds: round((performance.now() - t0) / 1000), value };
}

export function log(line: string): void {
  process.stderr.write(`bench: ${line}\n`);
}
