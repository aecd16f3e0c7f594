// Which project files a deploy leaves out: hidden files and folders, Python bytecode,
// node_modules, and the patterns of a .cortexignore file (gitignore syntax: `#` comments,
// `!` to re-include, a trailing `/` for folders only, a leading or inner `/` anchors the
// pattern to the project folder, `*`, `?`, `[...]` and `**`).

export interface IgnoreRule {
  negate: boolean;
  dirOnly: boolean;
  regex: RegExp;
}

const ALWAYS_SKIPPED_NAMES = new Set(['__pycache__', 'node_modules']);

/** Skipped whatever .cortexignore says. */
export function alwaysSkipped(name: string): boolean {
  return name.startsWith('.') || ALWAYS_SKIPPED_NAMES.has(name) || name.endsWith('.pyc') || name.endsWith('.pyo');
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches any number of folders (zero included); a trailing `**` matches everything.
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) {
        out += '\\[';
      } else {
        let set = glob.slice(i + 1, end);
        if (set.startsWith('!')) set = '^' + set.slice(1);
        out += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      out += '\\' + glob[++i];
    } else {
      out += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return out;
}

export function parseIgnore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (let line of text.split(/\r?\n/)) {
    line = line.replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    }
    let dirOnly = false;
    if (line.endsWith('/')) {
      dirOnly = true;
      line = line.replace(/\/+$/, '');
    }
    const anchored = line.includes('/');
    line = line.replace(/^\/+/, '');
    if (line === '') continue;
    const body = globToRegex(line);
    rules.push({ negate, dirOnly, regex: new RegExp(`^${anchored ? '' : '(?:.*/)?'}${body}$`) });
  }
  return rules;
}

/**
 * Whether `rel` (a path relative to the project folder, with `/`) is ignored by `rules`. The
 * walk asks for every folder before entering it, so what is below an ignored folder is never
 * asked about (as in git, it cannot be re-included).
 */
export function isIgnored(rules: IgnoreRule[], rel: string, isDir: boolean): boolean {
  let ignored = false;
  for (const rule of rules) {
    if (rule.dirOnly && !isDir) continue;
    if (rule.regex.test(rel)) ignored = !rule.negate;
  }
  return ignored;
}
