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

/** 1234567 → "1.23M", 45678 → "45.7k". */
export function si(n) {
  if (!Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** Bytes → "123 MB" (1 MB = 1e6 bytes, as the MB/s columns). */
export function mb(bytes) {
  return Number.isFinite(bytes) ? `${(bytes / 1e6).toFixed(0)} MB` : '–';
}
