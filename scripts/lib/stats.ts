// Small statistics over repeated runs and over requests' latencies, for the bench and the tests.

export function median(values: readonly number[]): number {
    if (values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: readonly number[], q: number): number {
    if (values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** "median (min–max)" of repeated runs, with a unit. */
export function spread(values: readonly number[], unit = "", digits = 1): string {
    if (values.length === 0) return "n/a";
    const f = (v: number) => v.toFixed(digits);
    return `${f(median(values))}${unit} (${f(Math.min(...values))}–${f(Math.max(...values))}, n=${values.length})`;
}
