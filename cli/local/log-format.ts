// Log lines for people: the runtime's JSON lines as "level  message" (tracebacks unfolded).
export function humanLines(lines: string[]): string[] {
  const out: string[] = [];
  let previous = '';
  for (const line of lines) {
    if (!line.startsWith('{')) {
      out.push(line);
      continue;
    }
    let entry: { level?: string; message?: string; detail?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      out.push(line);
      continue;
    }
    const message = entry.message ?? '';
    if (entry.detail && entry.detail !== previous) out.push(...entry.detail.split('\n'));
    out.push(...`${(entry.level ?? 'info').padEnd(7)} ${message}`.split('\n'));
    previous = message;
  }
  return out;
}
