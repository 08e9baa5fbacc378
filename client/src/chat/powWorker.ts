/** A Web Worker that solves one proof of work, telling its progress as it goes. */
import { search, type Challenge } from "./powSearch";

const STEP = 4096;

self.onmessage = (event: MessageEvent<Challenge>) => {
  const challenge = event.data;
  const expected = 2 ** challenge.bits;
  for (let from = 0; ; from += STEP) {
    const solution = search(challenge, from, STEP);
    if (solution !== null) {
      self.postMessage({ solution });
      return;
    }
    // Tries so far against the tries expected on average: an estimate, kept under 1.
    self.postMessage({ progress: Math.min(0.99, (from + STEP) / expected) });
  }
};
