/** The median of a few figures; NaN for none. */
export function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** The run with the highest rate: a side's best, whatever number in flight it took. */
export function fastest<T extends { rate: number }>(runs: T[]): T {
  const best = runs.reduce((a, b) => (b.rate > a.rate ? b : a));
  if (best === undefined) throw new Error("no runs to choose from");
  return best;
}
