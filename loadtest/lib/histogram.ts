/**
 * @module
 * A mergeable latency histogram: log-spaced buckets (2% wide) over 1 µs … ~100 s. Workers record
 * millions of samples without keeping them and send only the bucket counts to the runner, which
 * sums them; percentiles are then within 2% of the exact value.
 */

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Bucket i holds values in (GROWTH^(i-1), GROWTH^i] µs; bucket 0 holds values ≤ 1 µs. */
export const BUCKETS = Math.ceil(Math.log(100e6) / LOG_GROWTH) + 1;

export interface HistogramData {
  counts: number[];
  count: number;
  max: number;
}

export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;

  /** Records one value in microseconds (negative values, from clock noise, count as 0). */
  record(us: number): void {
    const v = Math.max(us, 1);
    let i = Math.ceil(Math.log(v) / LOG_GROWTH);
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.counts[i]! += 1;
    this.count += 1;
    if (us > this.max) this.max = us;
  }

  merge(other: HistogramData | Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.count += other.count;
    if (other.max > this.max) this.max = other.max;
  }

  /** The upper bound (µs) of the bucket holding the p-th percentile (0 < p ≤ 100); NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(GROWTH ** i, this.max);
    }
    return this.max;
  }

  toJSON(): HistogramData {
    return { counts: Array.from(this.counts), count: this.count, max: this.max };
  }

  static from(data: HistogramData): Histogram {
    const h = new Histogram();
    h.merge(data);
    return h;
  }
}
