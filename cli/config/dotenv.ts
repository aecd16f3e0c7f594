// A project's .env file (Cortex 0.34+): KEY=VALUE lines exported to the predictor's environment.
// Cortex sourced it with the shell; this reads the part of that syntax such files use:
// blank lines, `#` comments, an optional `export ` prefix, spaces around `=`, unquoted values (trailing ` # comment`
// dropped, spaces trimmed), 'single-quoted' values taken as written and "double-quoted" ones
// with \n, \t, \", \\ and \$ escapes.

export interface DotEnvProblem {
  /** 1-based line of the file. */
  line: number;
  message: string;
  fix: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', $: '$', '`': '`' };

/** The variables of a .env file's text, in order (a later line wins), and the lines that are not KEY=VALUE. */
export function parseDotEnv(text: string): { vars: Record<string, string>; problems: DotEnvProblem[] } {
  const vars: Record<string, string> = {};
  const problems: DotEnvProblem[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trimStart();
    const eq = line.indexOf('=');
    const name = (eq < 0 ? line : line.slice(0, eq)).trimEnd();
    if (eq < 0 || !NAME.test(name)) {
      problems.push({
        line: i + 1,
        message: eq < 0 ? `not a VARIABLE=value line: ${line}` : `"${name}" is not a valid variable name`,
        fix: 'write VARIABLE=value (name: letters, digits, _; no leading digit), or comment it out with #',
      });
      continue;
    }
    const value = parseValue(line.slice(eq + 1).trimStart());
    if (value === undefined) {
      problems.push({ line: i + 1, message: `unterminated quote in the value of ${name}`, fix: 'close the quote' });
      continue;
    }
    vars[name] = value;
  }
  return { vars, problems };
}

function parseValue(raw: string): string | undefined {
  const quote = raw[0];
  if (quote === "'") {
    const end = raw.indexOf("'", 1);
    return end < 0 ? undefined : raw.slice(1, end);
  }
  if (quote === '"') {
    let out = '';
    for (let i = 1; i < raw.length; i++) {
      const c = raw[i];
      if (c === '"') return out;
      if (c === '\\' && i + 1 < raw.length) {
        const next = raw[++i];
        out += ESCAPES[next] ?? `\\${next}`;
      } else {
        out += c;
      }
    }
    return undefined;
  }
  const comment = raw.search(/\s#/);
  return (comment < 0 ? raw : raw.slice(0, comment)).trim();
}
