/**
 * Solving a server's proof-of-work challenge (a room under a raid, a connection
 * flood) off the main thread, so the page stays responsive and can show progress.
 * Where Web Workers are missing (tests), the same search runs in slices between
 * tasks on the main thread.
 */
import type { Challenge } from "./powSearch";

export type { Challenge } from "./powSearch";

const SLICE = 2048;

export function solveChallenge(challenge: Challenge, onProgress: (fraction: number) => void): Promise<string> {
  if (typeof Worker === "undefined") return solveInSlices(challenge, onProgress);
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./powWorker.ts", import.meta.url), { type: "module" });
    worker.onmessage = (event: MessageEvent<{ solution?: string; progress?: number }>) => {
      if (event.data.solution !== undefined) {
        worker.terminate();
        resolve(event.data.solution);
      } else if (event.data.progress !== undefined) {
        onProgress(event.data.progress);
      }
    };
    worker.onerror = (error) => {
      worker.terminate();
      reject(new Error(error.message));
    };
    worker.postMessage(challenge);
  });
}

async function solveInSlices(challenge: Challenge, onProgress: (fraction: number) => void): Promise<string> {
  // Fetched only when needed: the hash function is not part of the first load.
  const { search } = await import("./powSearch");
  const expected = 2 ** challenge.bits;
  for (let from = 0; ; from += SLICE) {
    const solution = search(challenge, from, SLICE);
    if (solution !== null) return solution;
    onProgress(Math.min(0.99, (from + SLICE) / expected));
    await new Promise((resume) => setTimeout(resume, 0));
  }
}
