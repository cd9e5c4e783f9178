/** Small helpers shared by the benchmarks. */

export function median(xs: number[]): number {
  return quantile(xs, 0.5);
}

/** Linear-interpolated quantile (q in [0, 1]); NaN for an empty list. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export function ms(hrStart: bigint, hrEnd = process.hrtime.bigint()): number {
  return Number(hrEnd - hrStart) / 1e6;
}

export function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function int(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a';
}

export function kib(bytes: number): string {
  return `${fmt(bytes / 1024, 1)} KiB`;
}

/** Prints a progress line on stderr (stdout stays free for the summary). */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
