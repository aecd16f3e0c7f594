// Printing a bench's results: counts with thousands separators, columns aligned (the first to
// the left, the rest to the right) under a dashed rule.

export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}

/** `rows[0]` is the header; every row has the same number of cells. */
export function alignTable(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = rows.map((row) =>
    row.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join('  '),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines;
}

/** The cells every load bench's row starts with: req/s, p50 ms, p99 ms, CPU cores. */
export function loadCells(r: { requestsPerS: number; p50Ms: number; p99Ms: number; cpuCores: number }): string[] {
  return [formatCount(r.requestsPerS), r.p50Ms.toFixed(2), r.p99Ms.toFixed(2), r.cpuCores.toFixed(2)];
}
