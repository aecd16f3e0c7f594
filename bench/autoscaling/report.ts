// How the simulation shows its curves: an ASCII chart for the terminal and a hand-built SVG for
// docs/autoscaling.md. Both draw the replicas the load needed and each policy's replicas.

export interface Curves {
  title: string;
  durationSeconds: number;
  needed: number[];
  ours: number[];
  cortex: number[];
}

function bucketMax(curve: readonly number[], from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to && i < curve.length; i++) m = Math.max(m, curve[i]);
  return m;
}

/** A chart `width` columns wide: '.' needed, 'o' ours, 'x' Cortex, '#' ours and Cortex on the same cell. */
export function asciiChart(c: Curves, width = 90, height = 12): string {
  const top = Math.max(1, ...c.needed, ...c.ours, ...c.cortex);
  const grid = Array.from({ length: height }, () => Array<string>(width).fill(' '));
  const row = (v: number) => height - 1 - Math.round((v / top) * (height - 1));
  const per = c.durationSeconds / width;
  for (let col = 0; col < width; col++) {
    const from = Math.floor(col * per);
    const to = Math.floor((col + 1) * per);
    const need = row(bucketMax(c.needed, from, to));
    const ours = row(bucketMax(c.ours, from, to));
    const cortex = row(bucketMax(c.cortex, from, to));
    grid[need][col] = '.';
    grid[cortex][col] = 'x';
    grid[ours][col] = ours === cortex ? '#' : 'o';
  }
  const label = (r: number) => {
    const v = Math.round(((height - 1 - r) / (height - 1)) * top);
    return r === 0 || r === height - 1 || r === Math.floor(height / 2) ? String(v).padStart(4) : '    ';
  };
  const lines = grid.map((cells, r) => `${label(r)} |${cells.join('')}`);
  const minutes = Math.round(c.durationSeconds / 60);
  lines.push(`     +${'-'.repeat(width)}`);
  lines.push(`      0${`${minutes} min`.padStart(width - 1)}`);
  return lines.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A step line through one value a second, thinned to the points where it changes. */
function stepPath(curve: readonly number[], x: (t: number) => number, y: (v: number) => number): string {
  if (curve.length === 0) return '';
  const parts = [`M${x(0).toFixed(1)},${y(curve[0]).toFixed(1)}`];
  for (let t = 1; t < curve.length; t++) {
    if (curve[t] !== curve[t - 1]) parts.push(`H${x(t).toFixed(1)}V${y(curve[t]).toFixed(1)}`);
  }
  parts.push(`H${x(curve.length).toFixed(1)}`);
  return parts.join('');
}

/** An SVG plot: needed replicas as a grey area, ours in blue, Cortex's in orange, minutes on x. */
export function svgChart(c: Curves, subtitle: string): string {
  const W = 760;
  const H = 340;
  const left = 48;
  const right = 16;
  const topPad = 76;
  const bottom = 40;
  const top = Math.max(1, ...c.needed, ...c.ours, ...c.cortex);
  const yMax = Math.ceil(top / 5) * 5;
  const x = (t: number) => left + (t / c.durationSeconds) * (W - left - right);
  const y = (v: number) => H - bottom - (v / yMax) * (H - topPad - bottom);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="18" font-size="14" font-weight="bold">${esc(c.title)}</text>`);
  out.push(`<text x="${left}" y="34" fill="#555555">${esc(subtitle)}</text>`);
  // grid and axes
  const yStep = yMax <= 10 ? 1 : yMax <= 30 ? 5 : 10;
  for (let v = 0; v <= yMax; v += yStep) {
    out.push(`<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555555">${v}</text>`);
  }
  const minutes = c.durationSeconds / 60;
  const xStep = minutes <= 60 ? 5 : 10;
  for (let m = 0; m <= minutes; m += xStep) {
    out.push(
      `<text x="${x(m * 60).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle" fill="#555555">${m}</text>`,
    );
  }
  out.push(`<text x="${W - right}" y="${H - 6}" text-anchor="end" fill="#555555">minutes</text>`);
  out.push(`<text x="12" y="${topPad - 8}" fill="#555555">replicas</text>`);
  out.push(`<line x1="${left}" x2="${left}" y1="${topPad - 4}" y2="${H - bottom}" stroke="#999999"/>`);
  out.push(`<line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="#999999"/>`);
  // needed: an area
  const needLine = stepPath(c.needed, x, y);
  out.push(`<path d="${needLine}V${y(0).toFixed(1)}H${x(0).toFixed(1)}Z" fill="#d9d9d9" stroke="none"/>`);
  out.push(`<path d="${stepPath(c.cortex, x, y)}" fill="none" stroke="#e6730f" stroke-width="2"/>`);
  out.push(
    `<path d="${stepPath(c.ours, x, y)}" fill="none" stroke="#1f5fbf" stroke-width="2" stroke-dasharray="6 3"/>`,
  );
  // legend, on its own row under the subtitle
  const lx = left;
  const ly = 52;
  out.push(
    `<rect x="${lx}" y="${ly - 9}" width="14" height="10" fill="#d9d9d9"/>` +
      `<text x="${lx + 18}" y="${ly}">replicas the load needed</text>`,
  );
  out.push(
    `<line x1="${lx + 180}" x2="${lx + 200}" y1="${ly - 4}" y2="${ly - 4}" ` +
      `stroke="#1f5fbf" stroke-width="2" stroke-dasharray="6 3"/><text x="${lx + 204}" y="${ly}">ours (HPA)</text>`,
  );
  out.push(
    `<line x1="${lx + 290}" x2="${lx + 310}" y1="${ly - 4}" y2="${ly - 4}" stroke="#e6730f" stroke-width="2"/>` +
      `<text x="${lx + 314}" y="${ly}">Cortex's autoscaler</text>`,
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
