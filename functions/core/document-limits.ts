/**
 * Limits on the shape of a YAML or JSON document, checked by one linear pass before any parser
 * sees it. The parsers recurse once per nesting level (a deep document overflows the stack, and
 * past about 140,000 levels Node aborts with an allocation failure that cannot be caught) and
 * YAML's duplicate-key check is quadratic in a mapping's keys; a pass that only counts costs
 * microseconds per kilobyte whatever the body limit is.
 *
 * The limits are those of the Kubernetes API server's spirit (it caps JSON nesting and the
 * request size) sized for Orchestry's documents: a spec nests 5 levels and has at most 40
 * labels, 500 env entries; a metric batch holds at most 5,000 samples.
 */
import { CST, Lexer } from 'yaml';
import { OrchestryError } from './errors.js';

export const DOCUMENT_LIMITS = {
  /** Levels of mappings and lists inside each other. */
  maxDepth: 64,
  /** Keys of one mapping. */
  maxKeys: 256,
  /** Entries of one list. */
  maxEntries: 10_000,
  /** Bytes of YAML text: YAML costs far more per byte to parse than JSON. */
  maxYamlBytes: 64 * 1024,
} as const;

/** The first limit a document breaks: which (as docs/api.md names it), and a message that says where and the fix. */
export interface LimitProblem {
  limit: 'max_depth' | 'max_keys' | 'max_entries' | 'max_yaml_bytes';
  max: number;
  message: string;
}

/** Tokens the lexer adds that take no room in the source. */
const CONTROL_TOKENS = new Set([CST.BOM, CST.DOCUMENT, CST.FLOW_END, CST.SCALAR]);

const where = (line: number, column: number) => `line ${line}, column ${column}`;

const problems = {
  depth: (line: number, column: number): LimitProblem => ({
    limit: 'max_depth',
    max: DOCUMENT_LIMITS.maxDepth,
    message: `nests mappings and lists more than ${DOCUMENT_LIMITS.maxDepth} levels deep (at ${where(line, column)}); an app spec needs fewer than 10`,
  }),
  keys: (line: number, column: number): LimitProblem => ({
    limit: 'max_keys',
    max: DOCUMENT_LIMITS.maxKeys,
    message: `has a mapping with more than ${DOCUMENT_LIMITS.maxKeys} keys (at ${where(line, column)}); split it or use fewer keys`,
  }),
  entries: (line: number, column: number): LimitProblem => ({
    limit: 'max_entries',
    max: DOCUMENT_LIMITS.maxEntries,
    message: `has a list with more than ${DOCUMENT_LIMITS.maxEntries} entries (at ${where(line, column)}); send fewer per request`,
  }),
};

/** Counts the entries of open collections; the first one past a limit is the problem. */
class Nesting {
  private readonly open: Array<{ mapping: boolean; entries: number; column: number }> = [];

  get depth(): number {
    return this.open.length;
  }

  top() {
    return this.open[this.open.length - 1];
  }

  push(mapping: boolean, column: number, line: number, col: number): LimitProblem | null {
    this.open.push({ mapping, entries: 1, column });
    return this.open.length > DOCUMENT_LIMITS.maxDepth ? problems.depth(line, col) : null;
  }

  pop(): void {
    this.open.pop();
  }

  /** One more entry in the innermost collection. */
  count(line: number, col: number): LimitProblem | null {
    const top = this.top();
    if (!top) return null;
    top.entries++;
    if (top.mapping && top.entries > DOCUMENT_LIMITS.maxKeys) return problems.keys(line, col);
    if (!top.mapping && top.entries > DOCUMENT_LIMITS.maxEntries) return problems.entries(line, col);
    return null;
  }
}

/** The size cap on YAML alone, for a caller that knows the size before it has the text. */
export function yamlSizeProblem(bytes: number): LimitProblem | null {
  if (bytes <= DOCUMENT_LIMITS.maxYamlBytes) return null;
  return {
    limit: 'max_yaml_bytes',
    max: DOCUMENT_LIMITS.maxYamlBytes,
    message: `is ${bytes} bytes of YAML; at most ${DOCUMENT_LIMITS.maxYamlBytes} are read (an app spec is a few KiB): shorten it, or send it as JSON`,
  };
}

/** INVALID_SPEC for a spec document past a limit, naming the limit. */
export function specOverLimit(problem: LimitProblem): OrchestryError {
  const issue = { path: '(document)', message: `the document ${problem.message}` };
  return new OrchestryError('INVALID_SPEC', `Invalid app spec: ${issue.path}: ${issue.message}`, {
    issues: [issue],
    limit: problem.limit,
    max: problem.max,
  });
}

/** The first limit a JSON text breaks, or null. It does not check the syntax: JSON.parse does. */
export function jsonLimitProblem(source: string): LimitProblem | null {
  const nesting = new Nesting();
  let line = 1;
  let lineStart = 0;
  for (let at = 0; at < source.length; at++) {
    const ch = source.charCodeAt(at);
    if (ch === 0x22 /* " */) {
      // Skip the string; an unterminated one ends the scan (the parser reports it).
      for (at++; at < source.length; at++) {
        const c = source.charCodeAt(at);
        if (c === 0x5c /* \ */) at++;
        else if (c === 0x22) break;
      }
    } else if (ch === 0x7b /* { */ || ch === 0x5b /* [ */) {
      const problem = nesting.push(ch === 0x7b, 0, line, at - lineStart + 1);
      if (problem) return problem;
    } else if (ch === 0x7d /* } */ || ch === 0x5d /* ] */) {
      nesting.pop();
    } else if (ch === 0x2c /* , */) {
      const problem = nesting.count(line, at - lineStart + 1);
      if (problem) return problem;
    } else if (ch === 0x0a) {
      line++;
      lineStart = at + 1;
    }
  }
  return null;
}

/**
 * The first limit a YAML text breaks, or null; syntax errors are left to the parser. It walks
 * the yaml package's lexer (linear, no recursion): flow collections nest by their brackets and
 * count entries by commas; block collections nest by indentation, a mapping counting its keys
 * and a list its `-` items at one column.
 */
export function yamlLimitProblem(source: string): LimitProblem | null {
  const tooLarge = yamlSizeProblem(Buffer.byteLength(source, 'utf8'));
  if (tooLarge) return tooLarge;
  const flow = new Nesting();
  const block = new Nesting();
  let line = 1;
  let column = 0;
  /** The column where the current node of this line began, before a `:` makes it a key. */
  let nodeColumn: number | null = null;

  const blockNode = (mapping: boolean, at: number): LimitProblem | null => {
    // A list may be a mapping's value at the key's own column ("key:\n- item").
    for (let top = block.top(); top && (top.column > at || (top.column === at && !top.mapping && mapping)); top = block.top()) block.pop();
    const top = block.top();
    if (top && top.column === at && top.mapping === mapping) return block.count(line, at + 1);
    return block.push(mapping, at, line, at + 1) ?? (flow.depth + block.depth > DOCUMENT_LIMITS.maxDepth ? problems.depth(line, at + 1) : null);
  };

  /** The token after a scalar marker is the scalar's source text, whatever it looks like. */
  let scalarText = false;
  for (const token of new Lexer().lex(source)) {
    const type = scalarText ? null : CST.tokenType(token);
    scalarText = token === CST.SCALAR;
    const start = column;
    const newline = token.lastIndexOf('\n');
    if (newline >= 0) {
      line += token.split('\n').length - 1;
      column = token.length - newline - 1;
    } else if (!CONTROL_TOKENS.has(token)) {
      column += token.length;
    }
    let problem: LimitProblem | null = null;
    switch (type) {
      case 'doc-start':
        while (block.depth > 0) block.pop();
        nodeColumn = null;
        break;
      case 'newline':
        nodeColumn = null;
        break;
      case 'flow-map-start':
      case 'flow-seq-start':
        nodeColumn ??= start;
        problem = flow.push(type === 'flow-map-start', start, line, start + 1);
        if (!problem && flow.depth + block.depth > DOCUMENT_LIMITS.maxDepth) problem = problems.depth(line, start + 1);
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        flow.pop();
        break;
      case 'comma':
        problem = flow.count(line, start + 1);
        break;
      case 'seq-item-ind':
        if (flow.depth === 0) problem = blockNode(false, start);
        nodeColumn = null;
        break;
      case 'explicit-key-ind':
        if (flow.depth === 0) problem = blockNode(true, start);
        nodeColumn = null;
        break;
      case 'map-value-ind':
        if (flow.depth === 0 && nodeColumn !== null) problem = blockNode(true, nodeColumn);
        nodeColumn = null;
        break;
      case 'space':
      case 'comment':
        break;
      default:
        // A scalar, quoted scalar, anchor, tag or alias: where a node starts.
        if (type !== null) nodeColumn ??= start;
    }
    if (problem) return problem;
  }
  return null;
}
