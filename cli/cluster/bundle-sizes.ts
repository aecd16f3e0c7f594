// What makes a project big, for the "too big to deploy" message: its top-level folders (with
// everything inside them) and its largest files wherever they are, biggest first.

export interface SizedPath {
  /** Relative path; folders end with `/`. */
  path: string;
  size: number;
}

/**
 * The `count` largest of: each top-level folder (the sum of its files, as "name/"), each
 * top-level file, and each file deeper down. A folder and the one big file that fills it both
 * appear: the folder says what to .cortexignore, the file why.
 */
export function largestEntries(files: { rel: string; size: number }[], count: number): SizedPath[] {
  const folders = new Map<string, number>();
  for (const f of files) {
    const slash = f.rel.indexOf('/');
    if (slash > 0) {
      const top = f.rel.slice(0, slash + 1);
      folders.set(top, (folders.get(top) ?? 0) + f.size);
    }
  }
  const candidates: SizedPath[] = [
    ...[...folders].map(([path, size]) => ({ path, size })),
    ...files.map((f) => ({ path: f.rel, size: f.size })),
  ];
  // biggest first; a folder before a file of the same size (it is what to ignore); then by path
  candidates.sort(
    (a, b) =>
      b.size - a.size ||
      Number(b.path.endsWith('/')) - Number(a.path.endsWith('/')) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
  return candidates.slice(0, count);
}
