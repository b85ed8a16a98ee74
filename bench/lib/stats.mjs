// Small statistics and formatting helpers shared by the cases.

/** Median of a list of numbers (mean of the middle two for an even count). */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** The p-th percentile (0..100) of a sorted Float64Array or array, nearest rank. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** A rate as whole thousands for the per-run lists: 45678 → "46k"; a failed run (NaN) → "fail". */
export function fmtK(rate) {
  return Number.isFinite(rate) ? `${(rate / 1000).toFixed(0)}k` : 'fail';
}
