/**
 * Seeded randomness: a run's random choices (chaos victims) come from a seed that is printed and
 * recorded, so they can be made again.
 */
import { randomInt } from 'node:crypto';

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit state PRNG, good enough to shuffle a fleet
 * and fully determined by its seed, so a run's victims can be chosen again from its printed seed.
 * Returns floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh random 32-bit seed (unsigned), to be printed and recorded with the run. */
export function newSeed(): number {
  return randomInt(0, 2 ** 32);
}
