// A parsed YAML file that still knows where each key and value was written.

import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';

export interface Position {
  line: number;
  column: number;
}

export interface YamlProblem extends Position {
  message: string;
}

export class YamlSource {
  readonly doc: Document;
  readonly lines: LineCounter;
  /** The document as plain JavaScript (aliases and merge keys resolved). */
  readonly value: unknown;
  readonly errors: YamlProblem[];
  readonly warnings: YamlProblem[];

  private readonly source: string;

  constructor(text: string) {
    this.source = text;
    this.lines = new LineCounter();
    // merge keys (<<) as Go's yaml.v2, which Cortex used, accepted them
    this.doc = parseDocument(text, { lineCounter: this.lines, merge: true, prettyErrors: false, uniqueKeys: true });
    const problem = (e: { message: string; pos: [number, number] }): YamlProblem => ({
      ...this.pos(e.pos[0]),
      message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''),
    });
    // A key indented under a key whose value is already on its line (`cpu: 1` then `  mem: 1G`):
    // yaml reports it twice, at the value one line up. Name the over-indented key's own line once.
    const overIndented = this.doc.errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY');
    this.errors = this.doc.errors
      .filter((e) => !(e.code === 'BLOCK_AS_IMPLICIT_KEY' && overIndented.some((m) => m.pos[0] === e.pos[0])))
      .map((e) => (e.code === 'MULTILINE_IMPLICIT_KEY' ? this.overIndentedKey(e.pos[1]) : problem(e)));
    this.warnings = this.doc.warnings.map(problem);
    this.value = this.errors.length > 0 ? undefined : this.doc.toJS({ maxAliasCount: 1000 });
  }

  /** The problem for a key on the line holding `offset` that is indented too deep. */
  private overIndentedKey(offset: number): YamlProblem {
    const { line } = this.pos(offset);
    const text = this.source.split('\n')[line - 1] ?? '';
    const column = text.length - text.trimStart().length + 1;
    return {
      line,
      column,
      message:
        'this key is indented deeper than the key above it, whose value is already on its line ' +
        '(a key cannot have both a value and keys under it)',
    };
  }

  pos(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  private start(node: unknown): Position | undefined {
    const range = (node as Node | null)?.range;
    return range ? this.pos(range[0]) : undefined;
  }

  /**
   * Where `path` was written: its key (`part: 'key'`) or its value. A path that is not in the
   * file (a missing or defaulted field) resolves to the nearest ancestor that is.
   */
  locate(path: readonly (string | number)[], part: 'key' | 'value' = 'value'): Position {
    let node: unknown = this.doc.contents;
    let keyPos = this.start(node) ?? { line: 1, column: 1 };
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc);
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) return keyPos;
        keyPos = this.start(pair.key) ?? keyPos;
        node = pair.value;
      } else if (isSeq(node) && Number(seg) < node.items.length) {
        node = node.items[Number(seg)];
        keyPos = this.start(node) ?? keyPos;
      } else {
        return keyPos;
      }
    }
    return part === 'key' ? keyPos : (this.start(node) ?? keyPos);
  }
}
