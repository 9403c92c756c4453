import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getTableColumns } from 'drizzle-orm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { healthChecks, scalingPolicies } from '../../../db/schema.js';
import { OrchestryError, type FieldIssue } from '../../../functions/core/errors.js';
import { formatCpu, formatMemory, parseCpu, parseMemory } from '../../../functions/core/quantity.js';
import {
  HEALTH_CHECK_DEFAULTS,
  POLICY_FIELDS,
  RESERVED_LABELS,
  SCALING_DEFAULTS,
  initialReplicas,
  parseSpec,
  readSpec,
  toApiPolicy,
  toContainerTemplate,
  toHealthCheckRow,
  toPolicyRow,
  validatePolicyPatch,
  withPolicy,
  type AppSpec,
  type SpecDocument,
} from '../../../functions/core/spec.js';
import { LABELS } from '../../../functions/runtime/names.js';
import type { ContainerTemplate } from '../../../functions/runtime/types.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/specs');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');

/** The issues an input is rejected with (fails the test when it is accepted). */
function issuesOf(run: () => unknown, code: 'INVALID_SPEC' | 'VALIDATION_ERROR' = 'INVALID_SPEC'): FieldIssue[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(OrchestryError);
    expect((error as OrchestryError).code).toBe(code);
    return ((error as OrchestryError).details as { issues: FieldIssue[] }).issues;
  }
  throw new Error('expected the input to be rejected');
}

const specIssues = (input: unknown, contentType?: 'yaml' | 'json') => issuesOf(() => parseSpec(input, contentType));

/** A minimal valid document; each case below changes one thing in a fresh copy. */
function base(): Record<string, any> {
  return {
    apiVersion: 'v1',
    kind: 'App',
    metadata: { name: 'web' },
    spec: { image: 'nginx:1.27', ports: [{ containerPort: 8080 }] },
  };
}

function withChange(change: (doc: Record<string, any>) => void): Record<string, any> {
  const doc = base();
  change(doc);
  return doc;
}

describe('fixtures', () => {
  const valid = readdirSync(join(FIXTURES, 'valid'));
  const invalid = readdirSync(join(FIXTURES, 'invalid'));

  it('has both kinds', () => {
    expect(valid.length).toBeGreaterThanOrEqual(5);
    expect(invalid.length).toBeGreaterThanOrEqual(25);
  });

  it.each(valid)('valid/%s parses', (file) => {
    const spec = parseSpec(fixture(`valid/${file}`), file.endsWith('.json') ? 'json' : 'yaml');
    expect(spec.apiVersion).toBe('v1');
    expect(spec.spec.ports.length).toBeGreaterThan(0);
  });

  it.each(invalid)('invalid/%s is rejected with exactly the error its header names', (file) => {
    const source = fixture(`invalid/${file}`);
    const path = /^# path: (.*)$/m.exec(source)?.[1];
    const message = /^# message: (.*)$/m.exec(source)?.[1];
    expect(path, 'fixture header "# path:"').toBeDefined();
    expect(message, 'fixture header "# message:"').toBeDefined();
    const issues = specIssues(source);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe(path);
    expect(issues[0]!.message).toContain(message);
  });
});

describe('parseSpec: defaults', () => {
  it('fills every default from the scaling_policies and health_checks tables', () => {
    const spec = parseSpec(fixture('valid/minimal.yaml'));
    expect(spec).toEqual<AppSpec>({
      apiVersion: 'v1',
      kind: 'App',
      metadata: { name: 'hello', labels: {} },
      spec: {
        type: 'http',
        image: 'nginx:1.27',
        ports: [{ containerPort: 80, protocol: 'HTTP' }],
        resources: { cpuMillis: 250, memoryBytes: 512 * 1024 * 1024 },
        env: [],
      },
      scaling: {
        mode: 'auto',
        minReplicas: 1,
        maxReplicas: 5,
        targetRPSPerReplica: 50,
        maxP95LatencyMs: 250,
        maxCPUPercent: 70,
        maxMemoryPercent: 75,
        maxConnectionsPerReplica: 100,
        scaleOutThresholdPct: 80,
        scaleInThresholdPct: 30,
        windowSeconds: 60,
        cooldownSeconds: 180,
        maxScaleOutStep: 0,
        maxScaleInStep: 1,
        stabilizationWindowSeconds: 300,
        cpuWeight: 1,
        memoryWeight: 1,
        rpsWeight: 1,
        latencyWeight: 1.5,
        connectionWeight: 0.8,
        scaleToZeroAfterSeconds: 300,
      },
      healthCheck: {
        protocol: 'HTTP',
        enabled: true,
        port: 80,
        path: '/',
        method: 'GET',
        headers: {},
        body: null,
        expectedStatusCodes: [200],
        initialDelaySeconds: 30,
        periodSeconds: 30,
        timeoutSeconds: 5,
        failureThreshold: 3,
        successThreshold: 1,
      },
      termination: { drainSeconds: 10, stopGraceSeconds: 30 },
    });
  });

  it('uses the same defaults as the table columns', () => {
    const columns = getTableColumns(scalingPolicies);
    for (const field of POLICY_FIELDS) {
      expect(columns[field.column].default, field.column).toBe(field.default);
      expect(columns[field.column].name, field.column).toBe(field.apiKey);
    }
    const health = getTableColumns(healthChecks);
    for (const key of ['initialDelaySeconds', 'periodSeconds', 'timeoutSeconds', 'failureThreshold', 'successThreshold', 'enabled', 'method'] as const) {
      expect(health[key].default, key).toBe(HEALTH_CHECK_DEFAULTS[key]);
    }
  });

  it('type tcp defaults ports to TCP and the health check to a TCP connect', () => {
    const spec = parseSpec(fixture('valid/tcp.yaml'));
    expect(spec.spec.ports).toEqual([{ containerPort: 6379, protocol: 'TCP' }]);
    expect(spec.healthCheck).toEqual({
      protocol: 'TCP',
      enabled: true,
      port: 6379,
      initialDelaySeconds: 30,
      periodSeconds: 30,
      timeoutSeconds: 5,
      failureThreshold: 3,
      successThreshold: 1,
    });
    expect(spec.scaling.mode).toBe('manual');
  });

  it('the health check follows the protocol of the port it probes', () => {
    const spec = parseSpec(withChange((d) => (d.healthCheck = { protocol: undefined })));
    expect(spec.healthCheck.protocol).toBe('HTTP');
    expect(spec.healthCheck.port).toBe(8080);
  });

  it('keeps every field of a full spec', () => {
    const spec = parseSpec(fixture('valid/full.yaml'));
    expect(spec.metadata.labels).toEqual({ team: 'payments', 'app.kubernetes.io/part-of': 'shop' });
    expect(spec.spec.resources).toEqual({ cpuMillis: 1500, memoryBytes: 2 * 1024 ** 3 });
    expect(spec.spec.command).toEqual(['/app/orders']);
    expect(spec.spec.args).toEqual(['--listen', ':8080']);
    expect(spec.spec.workingDir).toBe('/app');
    expect(spec.spec.ports).toEqual([{ containerPort: 8080, protocol: 'HTTP', name: 'http' }]);
    expect(spec.scaling).toMatchObject({ maxScaleOutStep: 5, maxScaleInStep: 2, windowSeconds: 120, connectionWeight: 0 });
    expect(spec.healthCheck).toMatchObject({
      protocol: 'HTTP',
      port: 8080,
      method: 'POST',
      path: '/healthz?deep=1',
      headers: { 'X-Probe': 'orchestry' },
      body: '{"check": "deep"}',
      expectedStatusCodes: [200, 204],
      successThreshold: 2,
    });
    expect(spec.termination).toEqual({ drainSeconds: 20, stopGraceSeconds: 60 });
  });
});

describe('parseSpec: YAML and JSON', () => {
  it('reads the same spec from JSON text, YAML text and a parsed object', () => {
    const json = fixture('valid/full.json');
    const fromJson = parseSpec(json, 'json');
    expect(parseSpec(json, 'yaml')).toEqual(fromJson);
    expect(parseSpec(json)).toEqual(fromJson);
    expect(parseSpec(JSON.parse(json))).toEqual(fromJson);
    expect(parseSpec(YAML.stringify(JSON.parse(json)))).toEqual(fromJson);
    expect(fromJson.spec.resources).toEqual({ cpuMillis: 2000, memoryBytes: 1073741824 });
    expect(fromJson.scaling.minReplicas).toBe(0);
  });

  it.each([
    ['{"apiVersion": "v1",\n "kind": "App" "metadata": {}}', "expected ',' or '}' after a property value at line 2, column 16"],
    ['{"apiVersion": "v1",\n "kind": "App", }', 'expected a property name in double quotes at line 2, column 17'],
    ['{"apiVersion": "v1",\n  "kind": "App",', 'unexpected end of input; expected a property name in double quotes at line 2, column 17'],
    ["{'apiVersion': 'v1'}", 'expected a property name in double quotes at line 1, column 2'],
    ['{"a": [1, 2,]}', 'expected a value (object, list, string, number, true, false or null) at line 1, column 13'],
    ['{"a": "x\ny"}', 'expected an escape such as \\n or \\t instead of a raw control character inside a string at line 1, column 9'],
    ['{"a": 1} x', 'expected the end of the document at line 1, column 10'],
    ['{"a": 01}', "expected ',' or '}' after a property value at line 1, column 8"],
  ])('reports JSON syntax errors with line and column: %j', (source, message) => {
    expect(specIssues(source, 'json')).toEqual([{ path: '(document)', message: `JSON syntax error: ${message}` }]);
  });

  it.each([
    ['apiVersion: v1\napiVersion: v2\n', 'YAML syntax error at line 2, column 1: Map keys must be unique'],
    ['apiVersion: v1\nspec:\n\t image: x\n', 'YAML syntax error at line 3, column 1: Tabs are not allowed as indentation'],
    ['apiVersion: v1\nkind: !Custom App\n', 'YAML syntax error at line 2, column 7: Unresolved tag: !Custom'],
    ['apiVersion: *v\n', 'YAML error: Unresolved alias (the anchor must be set before the alias): v'],
    ['apiVersion: v1\n---\napiVersion: v1\n', 'found 2 YAML documents (separated by ---); register one app per document'],
    ['', 'the document is empty; see docs/app-spec.md for the fields'],
    ['# nothing but a comment\n', 'the document is empty; see docs/app-spec.md for the fields'],
  ])('reports YAML problems clearly: %j', (source, message) => {
    expect(specIssues(source)).toEqual([{ path: '(document)', message }]);
  });

  it('rejects a document that is not a mapping', () => {
    expect(specIssues('- a\n- b\n')).toEqual([
      {
        path: '(document)',
        message: 'must be a mapping with the fields apiVersion, kind, metadata, spec, scaling, healthCheck, termination; got a list',
      },
    ]);
    expect(specIssues('"just a string"', 'json')[0]!.message).toContain('got "just a string"');
  });

  it('refuses YAML that expands an alias without limit', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      bomb.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    expect(specIssues(bomb.join('\n'))[0]!.message).toMatch(/^YAML error: .*alias/i);
  });

  it('reports every problem at once, each at its own path', () => {
    const issues = specIssues(
      withChange((d) => {
        d.metadata.name = 'Web App';
        d.spec.resources = { cpu: 'lots', memory: '1 GB' };
        d.spec.ports[0].containerPort = 0;
        d.scaling = { mode: 'sometimes' };
      }),
    );
    expect(issues.map((i) => i.path)).toEqual(['metadata.name', 'spec.ports[0].containerPort', 'spec.resources.cpu', 'spec.resources.memory', 'scaling.mode']);
  });
});

describe('parseSpec: rules', () => {
  type Case = [title: string, change: (doc: Record<string, any>) => void, path: string, message: string];
  const cases: Case[] = [
    // top level and metadata
    ['apiVersion missing', (d) => delete d.apiVersion, 'apiVersion', 'required; must be "v1"'],
    ['kind wrong', (d) => (d.kind = 'app'), 'kind', 'must be "App"; got "app"'],
    ['metadata missing', (d) => delete d.metadata, 'metadata', 'required; must be a mapping with the fields name, labels'],
    ['unknown top-level field', (d) => (d.replicas = 3), 'replicas', 'unknown field "replicas"; allowed fields: apiVersion, kind, metadata, spec, scaling, healthCheck, termination'],
    ['two unknown fields', (d) => Object.assign(d.metadata, { namespace: 'x', annotations: {} }), 'metadata', 'unknown fields "namespace", "annotations"; allowed fields: name, labels'],
    ['name starting with a digit', (d) => (d.metadata.name = '1web'), 'metadata.name', '"1web" is not a DNS label'],
    ['name ending with a dash', (d) => (d.metadata.name = 'web-'), 'metadata.name', 'ending with a letter or digit (did you mean "web"?)'],
    ['name of 64 characters', (d) => (d.metadata.name = 'a'.repeat(64)), 'metadata.name', 'is not a DNS label: 1-63 characters'],
    ['empty name', (d) => (d.metadata.name = ''), 'metadata.name', '"" is not a DNS label'],
    ['name with unicode', (d) => (d.metadata.name = 'wéb'), 'metadata.name', '"wéb" is not a DNS label'],
    ['name not a string', (d) => (d.metadata.name = 42), 'metadata.name', 'must be a DNS label: 1-63 characters of lowercase letters, digits and \'-\', starting with a letter and ending with a letter or digit; got 42'],
    ['label value a number', (d) => (d.metadata.labels = { tier: 1 }), 'metadata.labels.tier', 'label values must be strings (quote numbers and booleans); got 1'],
    ['label key with spaces', (d) => (d.metadata.labels = { 'my label': 'x' }), 'metadata.labels["my label"]', 'is not a label name'],
    ['label key with an uppercase prefix', (d) => (d.metadata.labels = { 'Example.com/x': 'y' }), 'metadata.labels["Example.com/x"]', 'is not a label name'],
    ['label value with a newline', (d) => (d.metadata.labels = { team: 'a\nb' }), 'metadata.labels.team', 'label values may hold letters, digits, spaces and _ . : / = + - @'],
    ['label value too long', (d) => (d.metadata.labels = { team: 'x'.repeat(257) }), 'metadata.labels.team', 'at most 256 characters'],
    ['too many labels', (d) => (d.metadata.labels = Object.fromEntries(Array.from({ length: 41 }, (_, i) => [`l${i}`, 'v']))), 'metadata.labels', 'at most 40 labels; got 41'],
    ['reserved label', (d) => (d.metadata.labels = { 'orchestry.managed': 'false' }), 'metadata.labels["orchestry.managed"]', 'is set by Orchestry itself on every replica'],
    // spec
    ['spec missing', (d) => delete d.spec, 'spec', 'required; must be a mapping with the fields type, image, ports'],
    ['unknown type', (d) => (d.spec.type = 'grpc'), 'spec.type', 'must be "http" or "tcp"; got "grpc"'],
    ['type in capitals', (d) => (d.spec.type = 'HTTP'), 'spec.type', '(did you mean "http"?)'],
    ['empty image', (d) => (d.spec.image = ''), 'spec.image', 'must be an image reference such as nginx:1.27'],
    ['image with spaces', (d) => (d.spec.image = 'nginx latest'), 'spec.image', 'got "nginx latest"'],
    ['image too long', (d) => (d.spec.image = `a${'b'.repeat(600)}`), 'spec.image', 'must be an image reference of at most 512 characters'],
    ['ports not a list', (d) => (d.spec.ports = 8080), 'spec.ports', 'must be a list of ports such as [{containerPort: 8080}]; got 8080'],
    ['ports missing', (d) => delete d.spec.ports, 'spec.ports', 'required; must be a list of ports'],
    ['port 65536', (d) => (d.spec.ports[0].containerPort = 65536), 'spec.ports[0].containerPort', 'must be a whole number from 1 to 65535; got 65536'],
    ['port as a fraction', (d) => (d.spec.ports[0].containerPort = 80.5), 'spec.ports[0].containerPort', 'got 80.5'],
    ['port protocol UDP', (d) => (d.spec.ports[0].protocol = 'UDP'), 'spec.ports[0].protocol', 'must be "HTTP" or "TCP"; got "UDP"'],
    ['port name with capitals', (d) => (d.spec.ports[0].name = 'Web'), 'spec.ports[0].name', 'must be a port name: 1-15 lowercase letters'],
    ['http app serving TCP', (d) => (d.spec.ports[0].protocol = 'TCP'), 'spec.ports[0].protocol', 'for type http it must be HTTP'],
    ['a second port', (d) => d.spec.ports.push({ containerPort: 9090 }), 'spec.ports', 'declare exactly one'],
    ['resources not a mapping', (d) => (d.spec.resources = '1Gi'), 'spec.resources', 'must be a mapping with the fields cpu, memory; got "1Gi"'],
    ['cpu zero', (d) => (d.spec.resources = { cpu: 0 }), 'spec.resources.cpu', '0: CPU must be more than 0'],
    ['cpu negative', (d) => (d.spec.resources = { cpu: '-500m' }), 'spec.resources.cpu', '"-500m": CPU must be more than 0'],
    ['cpu too fine', (d) => (d.spec.resources = { cpu: '0.0005' }), 'spec.resources.cpu', 'is finer than 1 millicore'],
    ['memory with a lowercase unit', (d) => (d.spec.resources = { memory: '512mi' }), 'spec.resources.memory', 'did you mean "512Mi"'],
    ['memory too small', (d) => (d.spec.resources = { memory: '1Mi' }), 'spec.resources.memory', '"1Mi" is below the minimum of 6Mi'],
    ['memory too large', (d) => (d.spec.resources = { memory: '1Ti' }), 'spec.resources.memory', 'is above the maximum of 120Gi'],
    ['memory as a fraction of bytes', (d) => (d.spec.resources = { memory: 1e7 + 0.5 }), 'spec.resources.memory', 'is not a whole number of bytes'],
    ['empty command', (d) => (d.spec.command = []), 'spec.command', "must not be empty; leave command out to use the image's default"],
    ['command not a list', (d) => (d.spec.command = 'node server.js'), 'spec.command', 'must be a list of strings; got "node server.js"'],
    ['args with a number', (d) => (d.spec.args = ['--port', 8080]), 'spec.args[1]', 'args entries must be strings; got 8080'],
    ['args with NUL', (d) => (d.spec.args = ['a\0b']), 'spec.args[0]', 'no NUL characters'],
    ['relative workingDir', (d) => (d.spec.workingDir = 'srv'), 'spec.workingDir', 'must be an absolute path (starting with /); got "srv"'],
    ['env not a list', (d) => (d.spec.env = { A: 'b' }), 'spec.env', 'must be a list of {name, value} or {name, valueFrom: {secret}}; got a mapping'],
    ['env name with a dash', (d) => (d.spec.env = [{ name: 'MY-VAR', value: 'x' }]), 'spec.env[0].name', 'letters, digits and _, not starting with a digit; got "MY-VAR"'],
    ['env without value', (d) => (d.spec.env = [{ name: 'A' }]), 'spec.env[0]', 'A needs exactly one of value or valueFrom'],
    ['env value true', (d) => (d.spec.env = [{ name: 'A', value: true }]), 'spec.env[0].value', 'quote numbers and booleans'],
    ['empty secret ref', (d) => (d.spec.env = [{ name: 'A', valueFrom: { secret: '' } }]), 'spec.env[0].valueFrom.secret', 'must be a secret reference such as user-api/db'],
    ['secret ref with a leading slash', (d) => (d.spec.env = [{ name: 'A', valueFrom: { secret: '/team/db' } }]), 'spec.env[0].valueFrom.secret', 'parts of letters, digits'],
    ['secret ref climbing directories', (d) => (d.spec.env = [{ name: 'A', valueFrom: { secret: 'team/../db' } }]), 'spec.env[0].valueFrom.secret', 'got "team/../db"'],
    ['secret ref as an ARN', (d) => (d.spec.env = [{ name: 'A', valueFrom: { secret: 'arn:aws:ssm:x' } }]), 'spec.env[0].valueFrom.secret', 'must be a secret reference such as user-api/db'],
    ['valueFrom of another kind', (d) => (d.spec.env = [{ name: 'A', valueFrom: { secret: 'a/b', configMap: 'x' } }]), 'spec.env[0].valueFrom.configMap', 'unknown field "configMap"; allowed fields: secret'],
    // scaling
    ['mode unknown', (d) => (d.scaling = { mode: 'off' }), 'scaling.mode', 'must be "auto" or "manual"; got "off"'],
    ['max replicas 0', (d) => (d.scaling = { maxReplicas: 0 }), 'scaling.maxReplicas', 'must be a whole number from 1 to 1000; got 0'],
    ['max replicas 1001', (d) => (d.scaling = { maxReplicas: 1001 }), 'scaling.maxReplicas', 'from 1 to 1000; got 1001'],
    ['min above the default max', (d) => (d.scaling = { minReplicas: 6 }), 'scaling.minReplicas', 'minReplicas (6) must be <= maxReplicas (5, the default)'],
    ['out threshold below the default in', (d) => (d.scaling = { scaleOutThresholdPct: 30 }), 'scaling.scaleInThresholdPct', 'scaleInThresholdPct (30, the default) must be < scaleOutThresholdPct (30)'],
    ['threshold above 100', (d) => (d.scaling = { scaleOutThresholdPct: 101 }), 'scaling.scaleOutThresholdPct', 'from 1 to 100; got 101'],
    ['threshold 0', (d) => (d.scaling = { scaleInThresholdPct: 0 }), 'scaling.scaleInThresholdPct', 'from 1 to 100; got 0'],
    ['threshold as a fraction', (d) => (d.scaling = { scaleOutThresholdPct: 80.5 }), 'scaling.scaleOutThresholdPct', 'must be a whole number'],
    ['negative weight', (d) => (d.scaling = { latencyWeight: -1 }), 'scaling.latencyWeight', 'must be a number from 0 to 100; got -1'],
    ['weight as a string', (d) => (d.scaling = { cpuWeight: '1.5' }), 'scaling.cpuWeight', 'got "1.5" (a string; write the number without quotes)'],
    ['cpu percent above 100', (d) => (d.scaling = { maxCPUPercent: 150 }), 'scaling.maxCPUPercent', 'must be a number from 1 to 100; got 150'],
    ['window too short', (d) => (d.scaling = { windowSeconds: 5 }), 'scaling.windowSeconds', 'from 10 to 3600; got 5'],
    ['scale-in step 0', (d) => (d.scaling = { maxScaleInStep: 0 }), 'scaling.maxScaleInStep', 'from 1 to 1000; got 0'],
    ['infinite number', (d) => (d.scaling = { targetRPSPerReplica: Infinity }), 'scaling.targetRPSPerReplica', 'got Infinity'],
    ['NaN', (d) => (d.scaling = { maxP95LatencyMs: NaN }), 'scaling.maxP95LatencyMs', 'got NaN'],
    ['null for a number', (d) => (d.scaling = { cooldownSeconds: null }), 'scaling.cooldownSeconds', 'from 0 to 86400; got null'],
    ['Drizzle column name in the spec', (d) => (d.scaling = { evaluationWindowSeconds: 60 }), 'scaling.evaluationWindowSeconds', 'unknown field "evaluationWindowSeconds"'],
    // health check
    ['path without a slash', (d) => (d.healthCheck = { path: 'health' }), 'healthCheck.path', 'must be a URL path starting with / and without spaces; got "health"'],
    ['port name unknown', (d) => (d.healthCheck = { port: 'admin' }), 'healthCheck.port', 'no port is named "admin" in spec.ports (no port has a name)'],
    ['port out of range', (d) => (d.healthCheck = { port: 0 }), 'healthCheck.port', 'must be one of the spec.ports: a containerPort (1-65535) or a port name; got 0'],
    ['method PATCH', (d) => (d.healthCheck = { method: 'PATCH' }), 'healthCheck.method', 'must be "GET" or "POST" or "PUT" or "HEAD"; got "PATCH"'],
    ['method lowercase', (d) => (d.healthCheck = { method: 'get' }), 'healthCheck.method', '(did you mean "GET"?)'],
    ['bad header name', (d) => (d.healthCheck = { headers: { 'X Probe': 'a' } }), 'healthCheck.headers["X Probe"]', 'is not an HTTP header name'],
    ['header value on two lines', (d) => (d.healthCheck = { headers: { 'X-A': 'a\r\nB: c' } }), 'healthCheck.headers["X-A"]', 'header values must be one line'],
    ['empty status codes', (d) => (d.healthCheck = { expectedStatusCodes: [] }), 'healthCheck.expectedStatusCodes', 'must list at least one status code'],
    ['status code 99', (d) => (d.healthCheck = { expectedStatusCodes: [200, 99] }), 'healthCheck.expectedStatusCodes[1]', 'from 100 to 599; got 99'],
    ['period 0', (d) => (d.healthCheck = { periodSeconds: 0 }), 'healthCheck.periodSeconds', 'from 1 to 3600; got 0'],
    ['timeout above the default period', (d) => (d.healthCheck = { timeoutSeconds: 30 }), 'healthCheck.timeoutSeconds', 'timeoutSeconds (30) must be < periodSeconds (30, the default)'],
    ['period below the default timeout', (d) => (d.healthCheck = { periodSeconds: 3 }), 'healthCheck.timeoutSeconds', 'timeoutSeconds (5, the default) must be < periodSeconds (3)'],
    ['negative initial delay', (d) => (d.healthCheck = { initialDelaySeconds: -5 }), 'healthCheck.initialDelaySeconds', 'from 0 to 3600; got -5'],
    ['failure threshold 0', (d) => (d.healthCheck = { failureThreshold: 0 }), 'healthCheck.failureThreshold', 'from 1 to 100; got 0'],
    ['enabled as a string', (d) => (d.healthCheck = { enabled: 'yes' }), 'healthCheck.enabled', 'must be true or false; got "yes"'],
    ['TCP check with status codes', (d) => (d.healthCheck = { protocol: 'TCP', expectedStatusCodes: [200] }), 'healthCheck.expectedStatusCodes', 'applies to HTTP health checks only; remove it or set healthCheck.protocol to HTTP'],
    ['HEAD with a body', (d) => (d.healthCheck = { method: 'HEAD', body: 'x' }), 'healthCheck.body', 'a body is sent only with POST or PUT; method is HEAD'],
    ['unknown health field', (d) => (d.healthCheck = { interval: 10 }), 'healthCheck.interval', 'unknown field "interval"'],
    // termination
    ['negative drain', (d) => (d.termination = { drainSeconds: -1 }), 'termination.drainSeconds', 'from 0 to 3600; got -1'],
    ['unknown termination field', (d) => (d.termination = { gracePeriod: 5 }), 'termination.gracePeriod', 'allowed fields: drainSeconds, stopGraceSeconds'],
  ];

  it.each(cases)('%s', (_title, change, path, message) => {
    const issues = specIssues(withChange(change));
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe(path);
    expect(issues[0]!.message).toContain(message);
  });

  it('accepts the boundaries', () => {
    const spec = parseSpec(
      withChange((d) => {
        d.metadata.name = `a${'b'.repeat(61)}c`;
        d.metadata.labels = { 'example.com/a_b.c': 'x y:z/=+-@', team: 'équipe ü' };
        d.spec.ports = [{ containerPort: 65535, name: 'abcdefghijklmno' }];
        d.spec.resources = { cpu: '10m', memory: 6 * 1024 * 1024 };
        d.scaling = { minReplicas: 0, maxReplicas: 1000, scaleInThresholdPct: 99, scaleOutThresholdPct: 100, cpuWeight: 0, cooldownSeconds: 0 };
        d.healthCheck = { periodSeconds: 2, timeoutSeconds: 1, initialDelaySeconds: 0, expectedStatusCodes: [100, 599] };
        d.termination = { drainSeconds: 0, stopGraceSeconds: 120 };
      }),
    );
    expect(spec.metadata.name).toHaveLength(63);
    expect(spec.spec.resources).toEqual({ cpuMillis: 10, memoryBytes: 6 * 1024 * 1024 });
    expect(spec.scaling.minReplicas).toBe(0);
    expect(initialReplicas(spec)).toBe(1);
  });

  it('rejects a label key that is not allowed in Kubernetes-style names but takes a unicode value', () => {
    expect(specIssues(withChange((d) => (d.metadata.labels = { 'é': 'x' })))[0]!.path).toBe('metadata.labels["é"]');
  });

  it('accepts the image reference forms registries use', () => {
    for (const image of [
      'nginx',
      'nginx:1.27-alpine',
      'library/nginx:latest',
      'localhost:5000/team/app:dev',
      'registry.example.com/a/b/c:2.1.0',
      '123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1_2',
      'ghcr.io/org/app@sha256:0d1f2e3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
      'app:1.0@sha256:0d1f2e3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
      'my_app__x-y:tag',
    ]) {
      expect(parseSpec(withChange((d) => (d.spec.image = image))).spec.image, image).toBe(image);
    }
    for (const image of ['Nginx', 'nginx:', ':tag', 'nginx:-x', 'a//b', 'app@sha256:abc', 'https://registry/app']) {
      expect(specIssues(withChange((d) => (d.spec.image = image)))[0]!.path, image).toBe('spec.image');
    }
  });

  it('never fails with anything but INVALID_SPEC, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.string(), fc.anything()), (input) => {
        try {
          parseSpec(input);
        } catch (error) {
          return error instanceof OrchestryError && error.code === 'INVALID_SPEC';
        }
        return false;
      }),
      { numRuns: 300 },
    );
  });

  it('never fails with anything but INVALID_SPEC when one field holds an arbitrary value', () => {
    const fields: Array<(d: Record<string, any>, v: unknown) => void> = [
      (d, v) => (d.spec.resources = { cpu: v }),
      (d, v) => (d.spec.resources = { memory: v }),
      (d, v) => (d.scaling = { minReplicas: v }),
      (d, v) => (d.healthCheck = { port: v }),
      (d, v) => (d.spec.env = [v]),
      (d, v) => (d.metadata.labels = v),
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: fields.length - 1 }), fc.anything(), (which, value) => {
        try {
          parseSpec(withChange((d) => fields[which]!(d, value)));
          return true;
        } catch (error) {
          return error instanceof OrchestryError && error.code === 'INVALID_SPEC';
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('quantities', () => {
  it.each([
    ['500m', 500],
    ['0.5', 500],
    [0.5, 500],
    ['2', 2000],
    [2, 2000],
    ['1.25', 1250],
    [0.1, 100],
    ['16', 16000],
    [' 250m ', 250],
    ['2.000', 2000],
  ])('cpu %j is %d millicores', (input, millis) => {
    expect(parseCpu(input)).toEqual({ ok: true, value: millis });
  });

  it.each([
    ['500M', 'is not a CPU quantity'],
    ['', 'is not a CPU quantity'],
    ['1.5m', 'is not a CPU quantity'],
    [null, 'null is not a CPU quantity'],
    [0.0001, 'is finer than 1 millicore'],
    ['5m', 'is below the minimum of 10m'],
    ['16001m', 'is above the maximum of 16 cores'],
    [Number.MAX_VALUE, 'is above the maximum'],
  ])('cpu %j is refused: %s', (input, message) => {
    const result = parseCpu(input);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(message);
  });

  it.each([
    ['512Mi', 512 * 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['500M', 500_000_000],
    ['1G', 1_000_000_000],
    ['1.5Gi', 1.5 * 1024 ** 3],
    ['7.5M', 7_500_000],
    ['9.1M', 9_100_000],
    ['8192Ki', 8 * 1024 ** 2],
    ['7000k', 7_000_000],
    ['10000000', 10_000_000],
    [10_000_000, 10_000_000],
    ['120Gi', 120 * 1024 ** 3],
  ])('memory %j is %d bytes', (input, bytes) => {
    expect(parseMemory(input)).toEqual({ ok: true, value: bytes });
  });

  it.each([
    ['512MB', '"512MB" is not a memory size; use a number of bytes or a quantity like 512Mi, 1Gi, 500M (did you mean "512Mi" (binary) or "512M" (decimal)?)'],
    ['1GiB', 'did you mean "1Gi"?'],
    ['512m', 'is not a memory size'],
    ['1.0000001Ki', 'is not a whole number of bytes'],
    [512, '512 is below the minimum of 6Mi (6291456 bytes) (a plain number is bytes; did you mean "512Mi"?)'],
    ['121Gi', 'is above the maximum of 120Gi'],
    ['99999999999999999999999Ti', 'is above the maximum of 120Gi'],
    [true, 'boolean is not a memory size'],
  ])('memory %j is refused: %s', (input, message) => {
    const result = parseMemory(input);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(message);
  });

  it('formats quantities back', () => {
    expect([formatCpu(500), formatCpu(2000), formatCpu(1250)]).toEqual(['500m', '2', '1250m']);
    expect([formatMemory(512 * 1024 ** 2), formatMemory(1024 ** 3), formatMemory(1_000_000), formatMemory(3 * 1024)]).toEqual([
      '512Mi',
      '1Gi',
      '1000000',
      '3Ki',
    ]);
  });

  it('every formatted quantity parses back to itself', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 16_000 }), (millis) => parseCpu(formatCpu(millis)).ok && (parseCpu(formatCpu(millis)) as { value: number }).value === millis),
    );
    fc.assert(
      fc.property(fc.integer({ min: 6 * 1024 ** 2, max: 120 * 1024 ** 3 }), (bytes) => (parseMemory(formatMemory(bytes)) as { value: number }).value === bytes),
    );
  });
});

describe('round trip', () => {
  it.each(readdirSync(join(FIXTURES, 'valid')))('valid/%s: the stored document is what was written and parses to the same spec', (file) => {
    const source = fixture(`valid/${file}`);
    const contentType = file.endsWith('.json') ? 'json' : 'yaml';
    const { document, spec } = readSpec(source, contentType);
    // What the user registered, nothing added: GET spec gives this back.
    expect(document).toEqual(YAML.parse(source));
    // Stored as JSONB and read back.
    const stored = JSON.parse(JSON.stringify(document));
    expect(stored).toEqual(document);
    expect(parseSpec(stored)).toEqual(spec);
    expect(parseSpec(YAML.stringify(stored))).toEqual(spec);
  });

  it('does not change the object it is given', () => {
    const input = base();
    const before = structuredClone(input);
    const { document } = readSpec(input);
    expect(input).toEqual(before);
    expect(document).toBe(input);
  });

  it('does not share arrays or objects between the document and the spec', () => {
    const { document, spec } = readSpec(fixture('valid/full.yaml'));
    spec.spec.command!.push('x');
    spec.metadata.labels.extra = 'y';
    expect((document as any).spec.command).toEqual(['/app/orders']);
    expect((document as any).metadata.labels.extra).toBeUndefined();
  });
});

describe('conversions', () => {
  const spec = parseSpec(fixture('valid/full.yaml'));

  it('toContainerTemplate gives the runtime what it needs', () => {
    const template: ContainerTemplate = toContainerTemplate(spec);
    expect(template).toEqual({
      image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:3.4.1',
      containerPort: 8080,
      cpuMillis: 1500,
      memoryBytes: 2 * 1024 ** 3,
      command: ['/app/orders'],
      args: ['--listen', ':8080'],
      workingDir: '/app',
      env: { LOG_LEVEL: 'info' },
      secrets: [{ name: 'DATABASE_URL', ref: 'orders/db.url' }],
      labels: { team: 'payments', 'app.kubernetes.io/part-of': 'shop' },
      stopGraceSeconds: 60,
    });
    const minimal = toContainerTemplate(parseSpec(fixture('valid/minimal.yaml')));
    expect(minimal).toMatchObject({ command: undefined, args: undefined, workingDir: undefined, env: {}, secrets: [], labels: {}, stopGraceSeconds: 30 });
  });

  it('toPolicyRow has exactly the scaling_policies columns but app_name and timestamps', () => {
    const row = toPolicyRow(spec);
    const columns = Object.keys(getTableColumns(scalingPolicies)).filter((c) => !['appName', 'createdAt', 'updatedAt'].includes(c));
    expect(Object.keys(row).sort()).toEqual(columns.sort());
    expect(row).toMatchObject({ minReplicas: 3, maxReplicas: 30, targetRpsPerReplica: 200, maxCpuPercent: 65, evaluationWindowSeconds: 120, connectionWeight: 0 });
  });

  it('toHealthCheckRow has exactly the health_checks columns but id, app_name and timestamps', () => {
    const row = toHealthCheckRow(spec);
    const columns = Object.keys(getTableColumns(healthChecks)).filter((c) => !['id', 'appName', 'createdAt', 'updatedAt'].includes(c));
    expect(Object.keys(row).sort()).toEqual(columns.sort());
    expect(row).toEqual({
      protocol: 'HTTP',
      path: '/healthz?deep=1',
      port: 8080,
      method: 'POST',
      headers: { 'X-Probe': 'orchestry' },
      body: '{"check": "deep"}',
      expectedStatusCodes: [200, 204],
      initialDelaySeconds: 15,
      periodSeconds: 10,
      timeoutSeconds: 3,
      failureThreshold: 4,
      successThreshold: 2,
      enabled: true,
    });
    expect(toHealthCheckRow(parseSpec(fixture('valid/tcp.yaml')))).toMatchObject({ protocol: 'TCP', path: null, method: null, headers: null, body: null, expectedStatusCodes: null, port: 6379 });
    expect(toHealthCheckRow(parseSpec(fixture('valid/minimal.yaml')))).toMatchObject({ path: '/', method: 'GET', headers: null, expectedStatusCodes: [200] });
  });

  it('initialReplicas is the minimum, and at least one', () => {
    expect(initialReplicas(spec)).toBe(3);
    expect(initialReplicas(parseSpec(fixture('valid/full.json')))).toBe(1);
  });

  it('reserves exactly the labels the runtimes set', () => {
    expect([...RESERVED_LABELS].sort()).toEqual(Object.values(LABELS).sort());
  });

  it('toApiPolicy names every field as the API and the table do', () => {
    const api = toApiPolicy(toPolicyRow(spec));
    const columns = getTableColumns(scalingPolicies);
    expect(Object.keys(api).sort()).toEqual(
      Object.values(columns)
        .map((c) => c.name)
        .filter((n) => !['app_name', 'created_at', 'updated_at'].includes(n))
        .sort(),
    );
    expect(api.min_replicas).toBe(3);
    expect(api.evaluation_window_seconds).toBe(120);
  });
});

describe('validatePolicyPatch', () => {
  const current = { ...toPolicyRow(parseSpec(fixture('valid/minimal.yaml'))), mode: 'auto' as const };

  it('merges the given fields over the stored policy and lists what changed', () => {
    const update = validatePolicyPatch({ max_replicas: 10, scale_in_threshold_pct: 20, mode: 'manual' }, current);
    expect(update.mode).toBe('manual');
    expect(update.policy).toEqual({ ...toPolicyRow(parseSpec(fixture('valid/minimal.yaml'))), maxReplicas: 10, scaleInThresholdPct: 20 });
    expect(update.changes).toEqual({
      mode: { old: 'auto', new: 'manual' },
      max_replicas: { old: 5, new: 10 },
      scale_in_threshold_pct: { old: 30, new: 20 },
    });
  });

  it('an empty patch or an unchanged value changes nothing', () => {
    expect(validatePolicyPatch({}, current)).toEqual({ mode: 'auto', policy: toPolicyRow(parseSpec(fixture('valid/minimal.yaml'))), changes: {} });
    expect(validatePolicyPatch({ min_replicas: 1 }, current).changes).toEqual({});
  });

  it('fills null columns of the stored row with the table defaults', () => {
    const update = validatePolicyPatch({ cpu_weight: 2 }, { minReplicas: 2, maxReplicas: 4, latencyWeight: null, mode: null });
    expect(update.mode).toBe('auto');
    expect(update.policy).toMatchObject({ minReplicas: 2, maxReplicas: 4, latencyWeight: 1.5, cpuWeight: 2, connectionWeight: 0.8 });
    expect(Object.values(update.policy).every((v) => typeof v === 'number')).toBe(true);
  });

  it.each<[string, unknown, string, string]>([
    ['unknown field', { minReplicas: 2 }, 'minReplicas', 'unknown field "minReplicas" (did you mean "min_replicas"?); allowed fields: mode, min_replicas'],
    ['min above the current max', { min_replicas: 9 }, 'min_replicas', 'min_replicas (9) must be <= max_replicas (5, the current value)'],
    ['max below the current min', { max_replicas: 1, min_replicas: 3 }, 'min_replicas', 'min_replicas (3) must be <= max_replicas (1)'],
    ['in threshold not below out', { scale_in_threshold_pct: 80 }, 'scale_in_threshold_pct', 'scale_in_threshold_pct (80) must be < scale_out_threshold_pct (80, the current value)'],
    ['max replicas not an integer', { max_replicas: 2.5 }, 'max_replicas', 'must be a whole number from 1 to 1000; got 2.5'],
    ['negative weight', { rps_weight: -0.1 }, 'rps_weight', 'must be a number from 0 to 100; got -0.1'],
    ['quoted number', { max_replicas: '10' }, 'max_replicas', '(a string; write the number without quotes)'],
    ['mode unknown', { mode: 'paused' }, 'mode', 'must be "auto" or "manual"; got "paused"'],
    ['app_name in the body', { app_name: 'other', max_replicas: 3 }, 'app_name', 'cannot be changed here; the app is named in the URL'],
    ['not an object', [1], '(document)', 'must be a mapping with the fields mode, min_replicas'],
    ['a huge number', { cooldown_seconds: 1e300 }, 'cooldown_seconds', 'must be a whole number from 0 to 86400; got 1e+300'],
  ])('%s → VALIDATION_ERROR', (_title, patch, path, message) => {
    const issues = issuesOf(() => validatePolicyPatch(patch, current), 'VALIDATION_ERROR');
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe(path);
    expect(issues[0]!.message).toContain(message);
  });

  it('accepts exactly what the spec accepts', () => {
    fc.assert(
      fc.property(
        fc.record({
          min: fc.integer({ min: 0, max: 1000 }),
          max: fc.integer({ min: 1, max: 1000 }),
          low: fc.integer({ min: 1, max: 100 }),
          high: fc.integer({ min: 1, max: 100 }),
        }),
        ({ min, max, low, high }) => {
          const fromSpec = (() => {
            try {
              return toPolicyRow(parseSpec(withChange((d) => (d.scaling = { minReplicas: min, maxReplicas: max, scaleInThresholdPct: low, scaleOutThresholdPct: high }))));
            } catch {
              return null;
            }
          })();
          const fromPatch = (() => {
            try {
              return validatePolicyPatch({ min_replicas: min, max_replicas: max, scale_in_threshold_pct: low, scale_out_threshold_pct: high }, current).policy;
            } catch {
              return null;
            }
          })();
          expect(fromPatch).toEqual(fromSpec);
          expect(fromSpec === null).toBe(min > max || low >= high);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('defaults in SCALING_DEFAULTS are those of the API', () => {
    const api = toApiPolicy(validatePolicyPatch({}, {}).policy);
    for (const field of POLICY_FIELDS) expect(api[field.apiKey]).toBe(SCALING_DEFAULTS[field.specKey]);
  });
});

describe('withPolicy', () => {
  const { document, spec } = readSpec(fixture('valid/minimal.yaml'));
  const policy = toPolicyRow(spec);

  it('writes only the fields the document does not already give, and keeps the rest of it', () => {
    const update = validatePolicyPatch({ max_replicas: 9, mode: 'manual' }, { ...policy, mode: 'auto' });
    const written = withPolicy(document, update.mode, update.policy);
    expect(written.scaling).toEqual({ ...(document.scaling ?? {}), maxReplicas: 9, mode: 'manual' });
    expect({ ...written, scaling: undefined }).toEqual({ ...document, scaling: undefined });
    const reread = readSpec(written as SpecDocument).spec;
    expect(toPolicyRow(reread)).toEqual(update.policy);
    expect(reread.scaling.mode).toBe('manual');
  });

  it('returns the document itself when it already states the policy in force', () => {
    expect(withPolicy(document, spec.scaling.mode, policy)).toBe(document);
  });
});

