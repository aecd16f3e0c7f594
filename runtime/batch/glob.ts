// The glob patterns of a job's includes/excludes, with Cortex's meaning (its Go operator compiled
// them with gobwas/glob, '/' as separator, and matched the whole s3://bucket/key URL): `*` and `?`
// stop at '/', `**` crosses it (so Cortex's documented "**.jpg" selects every .jpg under the path),
// `[abc]`, `[a-z]`, `[!abc]`, `{a,b}` and `\` escapes. minimatch and picomatch read `**` only as a
// whole path segment ("**_3.jpg" matches nothing there), which would change what a Cortex
// submission selects; the translation to a RegExp is short enough to keep here.

export class GlobError extends Error {}

const SPECIAL = /[.*+?^${}()|[\]\\/]/g;
const literal = (c: string) => c.replace(SPECIAL, '\\$&');

/** The RegExp source of `pattern` from `at`, up to the end or (inside braces) a `,` or `}`. */
function translate(pattern: string, state: { at: number }, inBraces: boolean): string {
  let out = '';
  while (state.at < pattern.length) {
    const c = pattern[state.at];
    if (inBraces && (c === ',' || c === '}')) return out;
    state.at++;
    if (c === '\\') {
      if (state.at >= pattern.length) throw new GlobError('ends with a lone \\');
      out += literal(pattern[state.at++]);
    } else if (c === '*') {
      if (pattern[state.at] === '*') {
        while (pattern[state.at] === '*') state.at++;
        out += '.*';
      } else out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const close = pattern.indexOf(']', state.at + 1);
      if (close < 0) throw new GlobError(`[ at ${state.at} is not closed by ]`);
      let body = pattern.slice(state.at, close);
      state.at = close + 1;
      const negated = body.startsWith('!');
      if (negated) body = body.slice(1);
      if (body === '') throw new GlobError('[] holds no character');
      out += `[${negated ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
    } else if (c === '{') {
      const options: string[] = [];
      for (;;) {
        options.push(translate(pattern, state, true));
        if (state.at >= pattern.length) throw new GlobError('{ is not closed by }');
        if (pattern[state.at++] === '}') break;
      }
      out += `(?:${options.join('|')})`;
    } else {
      out += literal(c);
    }
  }
  return out;
}

/** A matcher for one glob pattern; GlobError when the pattern cannot be one. */
export function compileGlob(pattern: string): (text: string) => boolean {
  const state = { at: 0 };
  const source = translate(pattern, state, false);
  const re = new RegExp(`^${source}$`, 's');
  return (text) => re.test(text);
}
