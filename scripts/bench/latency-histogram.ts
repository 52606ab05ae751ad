/**
 * Latencies in buckets that grow by 2 % each, so a percentile is within 2 % of the truth
 * whatever the range (50 µs to minutes), and histograms from several processes add up.
 */
export interface LatencyHistogram {
  record(microseconds: number): void;
  /** The upper bound of the bucket holding the `fraction` quantile, in milliseconds; NaN when empty. */
  percentileMs(fraction: number): number;
  readonly count: number;
  /** Bucket index to count, as JSON carries it between processes. */
  toJSON(): Record<string, number>;
  add(buckets: Record<string, number>): void;
}

const GROWTH = Math.log(1.02);

export function createLatencyHistogram(): LatencyHistogram {
  const buckets = new Map<number, number>();
  let count = 0;
  return {
    record(microseconds) {
      const index = Math.ceil(Math.log(Math.max(1, microseconds)) / GROWTH);
      buckets.set(index, (buckets.get(index) ?? 0) + 1);
      count++;
    },
    percentileMs(fraction) {
      if (count === 0) return Number.NaN;
      const rank = Math.ceil(fraction * count);
      let seen = 0;
      for (const index of [...buckets.keys()].sort((a, b) => a - b)) {
        seen += buckets.get(index) ?? 0;
        if (seen >= rank) return Math.exp(index * GROWTH) / 1000;
      }
      return Number.NaN;
    },
    get count() {
      return count;
    },
    toJSON() {
      return Object.fromEntries(buckets);
    },
    add(more) {
      for (const [index, n] of Object.entries(more)) {
        buckets.set(Number(index), (buckets.get(Number(index)) ?? 0) + n);
        count += n;
      }
    },
  };
}
