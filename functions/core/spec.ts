/**
 * The app spec as a user writes it: reading a YAML or JSON document and validating every
 * field with a message that names the field and what is allowed there, then normalizing it
 * (core/spec-model.ts, re-exported here with the types, defaults and conversions). Also the
 * validation of a policy update. Pure: no I/O. The scheduled jobs import spec-model.ts
 * alone: they read documents this module validated when they were stored.
 */
import YAML from 'yaml';
import { z } from 'zod';
import { jsonLimitProblem, specOverLimit, yamlLimitProblem } from './document-limits.js';
import { invalidSpec, validationError, type FieldIssue } from './errors.js';
import { parseCpu, parseMemory, type QuantityResult } from './quantity.js';
import {
  APP_TYPES,
  HEALTH_CHECK_METHODS,
  HEALTH_CHECK_PROTOCOLS,
  normalize,
  policyIssues,
  POLICY_FIELDS,
  PORT_PROTOCOLS,
  SCALING_DEFAULTS,
  SCALING_MODES,
  apiKeyOf,
  type AppSpec,
  type PolicyField,
  type PolicyRow,
  type ScalingMode,
  type StoredPolicy,
  type ValueNote,
} from './spec-model.js';

export * from './spec-model.js';

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

type ErrorFn = (issue: { input?: unknown }) => string;

function describe(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}...` : input);
  return String(input);
}

/** An error function for a rule: "required; <rule>" when absent, "<rule>; got <value>" otherwise. */
const rule =
  (what: string): ErrorFn =>
  (issue) =>
    issue.input === undefined ? `required; ${what}` : `${what}; got ${describe(issue.input)}`;

/** Like `rule`, plus the most common YAML slip for numbers: quoting them. */
const numberRule =
  (what: string): ErrorFn =>
  (issue) => {
    const message = rule(what)(issue);
    return typeof issue.input === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(issue.input)
      ? `${message} (a string; write the number without quotes)`
      : message;
  };

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function suggest(key: string, allowed: readonly string[]): string {
  const lower = key.toLowerCase();
  const match =
    allowed.find((a) => a.toLowerCase() === lower) ??
    allowed.find((a) => key.length > 3 && editDistance(a.toLowerCase(), lower) <= 2);
  return match ? ` (did you mean "${match}"?)` : '';
}

function unknownFields(keys: readonly string[], allowed: readonly string[]): string {
  const list = allowed.join(', ');
  if (keys.length === 1) return `unknown field "${keys[0]}"${suggest(keys[0]!, allowed)}; allowed fields: ${list}`;
  return `unknown fields ${keys.map((k) => `"${k}"${suggest(k, allowed)}`).join(', ')}; allowed fields: ${list}`;
}

// ---------------------------------------------------------------------------
// Field schemas
// ---------------------------------------------------------------------------

function strict<S extends z.ZodRawShape>(shape: S) {
  const allowed = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? unknownFields(issue.keys, allowed)
        : rule(`must be a mapping with the fields ${allowed.join(', ')}`)(issue),
  });
}

function int(min: number, max: number) {
  const error = numberRule(`must be a whole number from ${min} to ${max}`);
  return z.int({ error }).min(min, { error }).max(max, { error });
}

function decimal(min: number, max: number) {
  const error = numberRule(`must be a number from ${min} to ${max}`);
  return z.number({ error }).min(min, { error }).max(max, { error });
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (issue) => {
      const options = values.map((v) => JSON.stringify(v)).join(' or ');
      const near =
        typeof issue.input === 'string' ? values.find((v) => v.toLowerCase() === (issue.input as string).toLowerCase()) : undefined;
      return rule(`must be ${options}`)(issue) + (near ? ` (did you mean "${near}"?)` : '');
    },
  });
}

const bool = z.boolean({ error: rule('must be true or false') });

const NO_NUL = /^[^\0]*$/;

function text(what: string, max: number) {
  const error = rule(what);
  return z
    .string({ error })
    .max(max, { error: rule(`${what} (at most ${max} characters)`), abort: true })
    .regex(NO_NUL, { error: rule(`${what} (no NUL characters)`) });
}

function stringList(what: string, maxItems: number) {
  return z
    .array(text(`${what} entries must be strings`, 4096), { error: rule(`must be a list of strings`) })
    .min(1, { error: rule(`must not be empty; leave ${what} out to use the image's default`) })
    .max(maxItems, { error: rule(`at most ${maxItems} entries`) });
}

const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;
const NAME_RULE =
  "must be a DNS label: 1-63 characters of lowercase letters, digits and '-', starting with a letter and ending with a letter or digit";

function nameSuggestion(input: unknown): string {
  if (typeof input !== 'string') return '';
  const fixed = input
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return fixed && fixed !== input && DNS_LABEL.test(fixed) ? ` (did you mean "${fixed}"?)` : '';
}

const appName = z
  .string({ error: rule(NAME_RULE) })
  .regex(DNS_LABEL, { error: (issue) => `${describe(issue.input)} ${NAME_RULE.replace('must be', 'is not')}${nameSuggestion(issue.input)}` });

/** Label keys as Kubernetes has them ([prefix/]name); they also fit AWS tag rules for ECS. */
const LABEL_KEY = /^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** AWS tag values allow these characters; Docker allows anything, so the stricter rule wins. */
const LABEL_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const MAX_LABELS = 40;
/**
 * The labels the runtimes put on every replica (runtime/names.ts LABELS, which core/ may not
 * import; a test keeps the two lists equal). Theirs win, so a user's value would be lost.
 */
export const RESERVED_LABELS: readonly string[] = ['orchestry.app', 'orchestry.replica', 'orchestry.revision', 'orchestry.port', 'orchestry.managed'];

const labels = z
  .record(z.string(), text('label values must be strings (quote numbers and booleans)', 256).regex(LABEL_VALUE, {
    error: rule('label values may hold letters, digits, spaces and _ . : / = + - @'),
  }), { error: rule('must be a mapping of label names to string values') })
  .superRefine((value, ctx) => {
    const keys = Object.keys(value);
    if (keys.length > MAX_LABELS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_LABELS} labels; got ${keys.length}`, input: value });
    for (const key of keys) {
      if (!LABEL_KEY.test(key) || key.length > 317) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          input: key,
          message:
            "is not a label name: use [prefix/]name, where name is 1-63 letters, digits, '-', '_' or '.' starting and ending with a letter or digit, and prefix is a lowercase DNS name",
        });
      } else if (RESERVED_LABELS.includes(key)) {
        ctx.addIssue({ code: 'custom', path: [key], input: key, message: `is set by Orchestry itself on every replica (reserved: ${RESERVED_LABELS.join(', ')})` });
      }
    }
  });

const IMAGE_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IMAGE_REFERENCE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?/)?${IMAGE_COMPONENT}(?:/${IMAGE_COMPONENT})*` +
    '(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$',
);
const IMAGE_RULE =
  'must be an image reference such as nginx:1.27, registry.example.com/team/app:2.1.0 or app@sha256:<digest> (repository names are lowercase)';

const image = z
  .string({ error: rule(IMAGE_RULE) })
  .min(1, { error: rule(IMAGE_RULE), abort: true })
  .max(512, { error: rule('must be an image reference of at most 512 characters'), abort: true })
  .regex(IMAGE_REFERENCE, { error: rule(IMAGE_RULE) });

const PORT_NAME = /^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$/;
const portName = z
  .string({ error: rule('must be a port name') })
  .regex(PORT_NAME, { error: rule("must be a port name: 1-15 lowercase letters, digits and '-', starting with a letter") });

const port = strict({
  containerPort: int(1, 65535),
  protocol: oneOf(PORT_PROTOCOLS).optional(),
  name: portName.optional(),
});

/** A CPU or memory quantity; the parser's message says what went wrong and which forms work. */
const quantity = (parse: (input: unknown) => QuantityResult) =>
  z.custom<string | number>((value) => parse(value).ok, {
    error: (issue) => (issue.input === undefined ? 'required' : (parse(issue.input) as { message: string }).message),
  });

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * Path-like names such as `user-api/db`: what both runtimes can resolve (a file or variable
 * locally, an SSM parameter under a prefix on AWS), so a ref is refused here, not at start-up.
 */
const SECRET_REF = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

const envVar = strict({
  name: z
    .string({ error: rule('must be an environment variable name') })
    .max(255, { error: rule('must be at most 255 characters'), abort: true })
    .regex(ENV_NAME, {
      error: rule('must be an environment variable name: letters, digits and _, not starting with a digit'),
    }),
  value: text('must be a string (quote numbers and booleans, e.g. "8080", "true")', 32_768).optional(),
  valueFrom: strict({
    secret: z
      .string({ error: rule('must be a secret reference') })
      .min(1, { error: rule('must be a secret reference such as user-api/db'), abort: true })
      .max(1000, { error: rule('must be at most 1000 characters'), abort: true })
      .regex(SECRET_REF, {
        error: rule("must be a secret reference such as user-api/db: parts of letters, digits, '.', '_' and '-' (each starting with a letter or digit) joined by '/'"),
      }),
  }).optional(),
}).superRefine((value, ctx) => {
  if ((value.value === undefined) === (value.valueFrom === undefined)) {
    ctx.addIssue({
      code: 'custom',
      input: value,
      message:
        value.value === undefined
          ? `${value.name} needs exactly one of value or valueFrom`
          : `${value.name} has both value and valueFrom; keep exactly one`,
    });
  }
});

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const headers = z
  .record(z.string(), text('header values must be strings', 4096).regex(/^[^\r\n]*$/, { error: rule('header values must be one line') }), {
    error: rule('must be a mapping of header names to string values'),
  })
  .superRefine((value, ctx) => {
    const keys = Object.keys(value);
    if (keys.length > 20) ctx.addIssue({ code: 'custom', message: `at most 20 headers; got ${keys.length}`, input: value });
    for (const key of keys) {
      if (!HEADER_NAME.test(key)) ctx.addIssue({ code: 'custom', path: [key], input: key, message: 'is not an HTTP header name' });
    }
  });

const scalingShape = {
  mode: oneOf(SCALING_MODES).optional(),
  ...Object.fromEntries(
    POLICY_FIELDS.map((f) => [f.specKey, (f.integer ? int(f.min, f.max) : decimal(f.min, f.max)).optional()]),
  ),
} as { mode: z.ZodOptional<ReturnType<typeof oneOf<typeof SCALING_MODES>>> } & Record<
  PolicyField['specKey'],
  z.ZodOptional<z.ZodNumber>
>;

const documentSchema = strict({
  apiVersion: z.literal('v1', { error: rule('must be "v1"') }),
  kind: z.literal('App', { error: rule('must be "App"') }),
  metadata: strict({
    name: appName,
    labels: labels.optional(),
  }),
  spec: strict({
    type: oneOf(APP_TYPES).optional(),
    image,
    ports: z
      .array(port, { error: rule('must be a list of ports such as [{containerPort: 8080}]') })
      .min(1, { error: rule('must declare at least one port, such as [{containerPort: 8080}]') })
      .max(1, {
        // The replica's one published port is what the router, the ALB target group and the
        // prober all reach; a second port would be accepted and then silently unreachable.
        error: rule('Orchestry serves and probes one port per app: declare exactly one, the port the app listens on'),
      }),
    resources: strict({
      cpu: quantity(parseCpu).optional(),
      memory: quantity(parseMemory).optional(),
    }).optional(),
    command: stringList('command', 256).optional(),
    args: stringList('args', 256).optional(),
    workingDir: text('must be an absolute path', 1024)
      .regex(/^\//, { error: rule('must be an absolute path (starting with /)') })
      .optional(),
    env: z
      .array(envVar, { error: rule('must be a list of {name, value} or {name, valueFrom: {secret}}') })
      .max(500, { error: rule('at most 500 variables') })
      .optional(),
  }),
  scaling: strict(scalingShape).optional(),
  healthCheck: strict({
    enabled: bool.optional(),
    protocol: oneOf(HEALTH_CHECK_PROTOCOLS).optional(),
    path: text('must be a URL path starting with /', 500)
      .regex(/^\/[^\s\x00-\x1f\x7f]*$/, { error: rule('must be a URL path starting with / and without spaces') })
      .optional(),
    port: z
      .custom<number | string>(
        (value) =>
          typeof value === 'number' ? Number.isInteger(value) && value >= 1 && value <= 65535 : typeof value === 'string' && PORT_NAME.test(value),
        { error: numberRule('must be one of the spec.ports: a containerPort (1-65535) or a port name') },
      )
      .optional(),
    method: oneOf(HEALTH_CHECK_METHODS).optional(),
    headers: headers.optional(),
    body: text('must be a string', 65_536).optional(),
    expectedStatusCodes: z
      .array(int(100, 599), { error: rule('must be a list of HTTP status codes, such as [200, 204]') })
      .min(1, { error: rule('must list at least one status code') })
      .max(50, { error: rule('at most 50 status codes') })
      .optional(),
    initialDelaySeconds: int(0, 3600).optional(),
    periodSeconds: int(1, 3600).optional(),
    timeoutSeconds: int(1, 3600).optional(),
    failureThreshold: int(1, 100).optional(),
    successThreshold: int(1, 100).optional(),
  }).optional(),
  termination: strict({
    drainSeconds: int(0, 3600).optional(),
    // Fargate's stopTimeout allows at most 120 s.
    stopGraceSeconds: int(0, 120).optional(),
  }).optional(),
});

/** The app spec document as a user writes it. */
export type SpecDocument = z.input<typeof documentSchema>;
export type ValidDocument = z.output<typeof documentSchema>;

// ---------------------------------------------------------------------------
// Reading text
// ---------------------------------------------------------------------------

const ROOT = '(document)';

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out || ROOT;
}

function toFieldIssues(issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  const out: FieldIssue[] = [];
  for (const issue of issues) {
    const path = [...issue.path];
    if (issue.code === 'unrecognized_keys' && issue.keys.length === 1) path.push(issue.keys[0]!);
    const field = { path: formatPath(path), message: issue.message };
    // One value can break two checks with the same message (1e300: not a safe integer, above the maximum).
    const key = `${field.path}\0${field.message}`;
    if (!seen.has(key)) out.push(field);
    seen.add(key);
  }
  return out;
}

function lineColumn(source: string, offset: number): string {
  const before = source.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * Where JSON.parse gave up and what it expected there. V8 names the position for some errors
 * only, so a small scanner finds it for all of them.
 */
function jsonSyntaxError(source: string): string {
  let at = 0;
  const fail = (expected: string): never => {
    throw new SyntaxError(
      `${at >= source.length ? 'unexpected end of input; ' : ''}expected ${expected} at ${lineColumn(source, at)}`,
    );
  };
  const space = () => {
    while (at < source.length && ' \t\n\r'.includes(source[at]!)) at++;
  };
  const string = () => {
    at++;
    while (at < source.length) {
      const ch = source[at]!;
      if (ch === '"') {
        at++;
        return;
      }
      if (ch === '\\') {
        const escape = source[at + 1] ?? '';
        if (escape === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(source.slice(at + 2, at + 6))) fail('4 hex digits after \\u');
          at += 6;
        } else if ('"\\/bfnrt'.includes(escape) && escape) {
          at += 2;
        } else {
          at++;
          fail('an escape such as \\n, \\" or \\u0041');
        }
      } else if (ch < ' ') {
        fail('an escape such as \\n or \\t instead of a raw control character inside a string');
      } else {
        at++;
      }
    }
    fail('a closing "');
  };
  const value = (): void => {
    space();
    const ch = source[at];
    if (ch === '{') {
      at++;
      space();
      if (source[at] === '}') return void at++;
      for (;;) {
        space();
        if (source[at] !== '"') fail('a property name in double quotes');
        string();
        space();
        if (source[at] !== ':') fail("':' after the property name");
        at++;
        value();
        space();
        if (source[at] === ',') at++;
        else if (source[at] === '}') return void at++;
        else fail("',' or '}' after a property value");
      }
    }
    if (ch === '[') {
      at++;
      space();
      if (source[at] === ']') return void at++;
      for (;;) {
        value();
        space();
        if (source[at] === ',') at++;
        else if (source[at] === ']') return void at++;
        else fail("',' or ']' after a list item");
      }
    }
    if (ch === '"') return string();
    const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    number.lastIndex = at;
    if (number.test(source)) {
      at = number.lastIndex;
      return;
    }
    for (const literal of ['true', 'false', 'null']) {
      if (source.startsWith(literal, at)) {
        at += literal.length;
        return;
      }
    }
    fail('a value (object, list, string, number, true, false or null)');
  };
  try {
    value();
    space();
    if (at < source.length) fail('the end of the document');
  } catch (error) {
    if (error instanceof SyntaxError) return `JSON syntax error: ${error.message}`;
    throw error;
  }
  return 'JSON syntax error';
}

function readJson(source: string): unknown {
  const problem = jsonLimitProblem(source);
  if (problem) throw specOverLimit(problem);
  try {
    return JSON.parse(source);
  } catch {
    throw invalidSpec([{ path: ROOT, message: jsonSyntaxError(source) }]);
  }
}

function readYaml(source: string): unknown {
  const limit = yamlLimitProblem(source);
  if (limit) throw specOverLimit(limit);
  const documents = YAML.parseAllDocuments(source, { uniqueKeys: true });
  if (!Array.isArray(documents) || documents.length === 0) {
    throw invalidSpec([{ path: ROOT, message: 'the document is empty; see docs/app-spec.md for the fields' }]);
  }
  if (documents.length > 1) {
    throw invalidSpec([{ path: ROOT, message: `found ${documents.length} YAML documents (separated by ---); register one app per document` }]);
  }
  const document = documents[0]!;
  const problem = document.errors[0] ?? document.warnings[0];
  if (problem) {
    const where = problem.linePos ? ` at line ${problem.linePos[0].line}, column ${problem.linePos[0].col}` : '';
    const what = problem.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw invalidSpec([{ path: ROOT, message: `YAML syntax error${where}: ${what}` }]);
  }
  try {
    return document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw invalidSpec([{ path: ROOT, message: `YAML error: ${error instanceof Error ? error.message : String(error)}` }]);
  }
}

/**
 * Text → the plain document (objects, lists, strings, numbers, booleans), without validating it.
 * Anything that is not a string is taken to be a document already.
 */
export function loadSpecDocument(input: unknown, contentType?: 'yaml' | 'json'): unknown {
  if (typeof input !== 'string') return input;
  const source = input.replace(/^\uFEFF/, '');
  if (source.trim() === '') throw invalidSpec([{ path: ROOT, message: 'the document is empty; see docs/app-spec.md for the fields' }]);
  return contentType === 'json' ? readJson(source) : readYaml(source);
}

/**
 * Reads and validates an app spec. Returns the document exactly as written (store this one:
 * it is what `GET spec` gives back) and the normalized spec. Throws INVALID_SPEC listing every
 * problem found, each with its field path.
 */
export function readSpec(input: unknown, contentType?: 'yaml' | 'json'): { document: SpecDocument; spec: AppSpec } {
  const document = loadSpecDocument(input, contentType);
  const parsed = documentSchema.safeParse(document);
  if (!parsed.success) throw invalidSpec(toFieldIssues(parsed.error.issues));
  return { document: document as SpecDocument, spec: normalize(parsed.data) };
}

/** Reads and validates an app spec (YAML or JSON text, or a parsed document) into its normalized form. */
export function parseSpec(input: unknown, contentType?: 'yaml' | 'json'): AppSpec {
  return readSpec(input, contentType).spec;
}

// ---------------------------------------------------------------------------
// Policy updates (PUT /apps/{name}/scaling)
// ---------------------------------------------------------------------------

const patchShape = {
  mode: oneOf(SCALING_MODES).optional(),
  ...Object.fromEntries(POLICY_FIELDS.map((f) => [f.apiKey, (f.integer ? int(f.min, f.max) : decimal(f.min, f.max)).optional()])),
};
const patchSchema = strict(patchShape);

export interface PolicyUpdate {
  mode: ScalingMode;
  policy: PolicyRow;
  /** The fields whose value changes, by API name, for the `config` event. */
  changes: Record<string, { old: number | string; new: number | string }>;
}

/**
 * Validates a partial policy (snake_case fields as the API shows them, plus `mode`) merged over
 * the stored one, with the same rules as the spec. Throws VALIDATION_ERROR naming each field.
 */
export function validatePolicyPatch(patch: unknown, current: StoredPolicy): PolicyUpdate {
  if (patch !== null && typeof patch === 'object' && !Array.isArray(patch) && 'app_name' in patch) {
    throw validationError([{ path: 'app_name', message: 'cannot be changed here; the app is named in the URL' }]);
  }
  const parsed = patchSchema.safeParse(patch);
  if (!parsed.success) throw validationError(toFieldIssues(parsed.error.issues));
  const given = parsed.data as Record<string, number | undefined> & { mode?: ScalingMode };
  const old: PolicyRow = Object.fromEntries(POLICY_FIELDS.map((f) => [f.column, current[f.column] ?? f.default])) as unknown as PolicyRow;
  const policy: PolicyRow = Object.fromEntries(POLICY_FIELDS.map((f) => [f.column, given[f.apiKey] ?? old[f.column]])) as unknown as PolicyRow;
  const note: ValueNote = (column) => (given[apiKeyOf(column)] === undefined ? ', the current value' : '');
  const issues = policyIssues(policy, apiKeyOf, note);
  if (issues.length > 0) throw validationError(issues.map((i) => ({ path: apiKeyOf(i.field), message: i.message })));

  const oldMode = current.mode ?? SCALING_DEFAULTS.mode;
  const mode = given.mode ?? oldMode;
  const changes: PolicyUpdate['changes'] = {};
  if (mode !== oldMode) changes.mode = { old: oldMode, new: mode };
  for (const f of POLICY_FIELDS) {
    if (policy[f.column] !== old[f.column]) changes[f.apiKey] = { old: old[f.column], new: policy[f.column] };
  }
  return { mode, policy, changes };
}

/**
 * The stored spec document with the policy in force written into its `scaling` section, so
 * that GET spec shows it and a document fetched, edited and PUT back does not silently undo a
 * policy update. Only fields whose value the document does not already give (explicitly or by
 * default) are written; the rest of the document stays as it was.
 */
export function withPolicy(document: SpecDocument, mode: ScalingMode, policy: PolicyRow): SpecDocument {
  const stated = parseSpec(document).scaling;
  const written = document.scaling;
  const scaling: Record<string, unknown> = written !== null && typeof written === 'object' && !Array.isArray(written) ? { ...written } : {};
  let changed = false;
  if (stated.mode !== mode) {
    scaling.mode = mode;
    changed = true;
  }
  for (const f of POLICY_FIELDS) {
    if (stated[f.specKey] !== policy[f.column]) {
      scaling[f.specKey] = policy[f.column];
      changed = true;
    }
  }
  return changed ? ({ ...document, scaling } as SpecDocument) : document;
}
