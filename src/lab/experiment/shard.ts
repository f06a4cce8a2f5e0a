/**
 * Shares of an experiment's runs: `--shard K/N` (one machine of N, for a Slurm job array or a
 * Kubernetes Indexed Job), `--part K` (a preset split into parts that each fit a GPU window, run
 * one after the other into the same folder) and `--jobs N` (N worker processes on one machine) all
 * cut the runner's plan the same way.
 *
 * A share is a contiguous block of the plan order (seed-major: all cells and arms of a seed, then
 * the next seed), so a share holds whole seeds where the sizes allow, and its results are paired on
 * their own. Blocks are balanced by estimated cost (cost.ts, from the spec alone), not by count:
 * cells can differ tenfold in steps. Run i goes to share ⌊N · (cost before i + cost of i / 2) / total⌋:
 * deterministic, every run in exactly one share, the same on every machine.
 */

/** Share `index` (1-based) of `count`. */
export interface Shard {
  index: number;
  count: number;
}

/** Parses "K/N" (1 ≤ K ≤ N); the error names the option. */
export function parseShard(text: string, option = '--shard'): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new Error(`${option} must be K/N with 1 <= K <= N (for example 2/4), got '${text}'`);
  }
  return { index, count };
}

export const formatShard = (s: Shard): string => `${s.index}/${s.count}`;

/** The 0-based share of each item (see the module comment). */
export function shareIndices(costs: readonly number[], count: number): number[] {
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`shareIndices: count must be a positive integer, got ${count}`);
  for (const [i, c] of costs.entries()) {
    if (!(c > 0) || !Number.isFinite(c)) throw new Error(`shareIndices: cost ${i} must be a positive finite number, got ${c}`);
  }
  const total = costs.reduce((a, b) => a + b, 0);
  let before = 0;
  return costs.map((c) => {
    const share = Math.min(count - 1, Math.floor((count * (before + c / 2)) / total));
    before += c;
    return share;
  });
}

/** The items of share `shard` (in their order). */
export function shareOf<T>(items: readonly T[], cost: (item: T) => number, shard: Shard): T[] {
  const shares = shareIndices(items.map(cost), shard.count);
  return items.filter((_, i) => shares[i] === shard.index - 1);
}

/** Shares of shares: `--part K` then `--shard K/N` then a `--jobs` worker's share, each cut from what the previous one left. */
export function shareOfAll<T>(items: readonly T[], cost: (item: T) => number, shards: readonly Shard[]): T[] {
  let left = [...items];
  for (const s of shards) left = left.length ? shareOf(left, cost, s) : left;
  return left;
}
