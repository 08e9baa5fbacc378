/**
 * The search a proof of work is (guards/proof_of_work.py on the server): find a
 * `solution` such that SHA-256("<nonce>:<solution>") starts with `bits` zero bits.
 * Pure and synchronous, so it runs in a Web Worker (powWorker.ts) and in tests.
 */
import { sha256 } from "@noble/hashes/sha2.js";

export interface Challenge {
  nonce: string;
  bits: number;
  expires: number;
}

export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/**
 * Try solutions `from`, `from + 1`, … for `count` tries: the one found, or null.
 * Solutions are counters in base 36, as short as they can be.
 */
export function search(challenge: Challenge, from: number, count: number): string | null {
  const encoder = new TextEncoder();
  const prefix = `${challenge.nonce}:`;
  for (let counter = from; counter < from + count; counter++) {
    const solution = counter.toString(36);
    if (leadingZeroBits(sha256(encoder.encode(prefix + solution))) >= challenge.bits) return solution;
  }
  return null;
}
