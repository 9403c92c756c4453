/**
 * cold_start: the API Lambda built as infra/bundles.ts builds it (SST's deploy options, code
 * splitting included, with node-postgres for local Postgres, minified, with @aws-sdk/* left to the Node 20 Lambda runtime's own copy;
 * the deploy differs there: SST v2 bundles the SDK into each function, unminified, see
 * docs/benchmarks.md, cold start). Then started the
 * way Lambda starts a container: a fresh `node` process imports the bundle and answers one API
 * Gateway (HTTP API, payload 2.0) event, an authenticated GET /api/v1/apps against local
 * Postgres with the ECS runtime configured as in the cloud. Measured from spawning the process
 * to the answer on its stdout; median of 10.
 *
 * The reference is a Hono hello-world Lambda (hono/aws-lambda) bundled and measured the same
 * way, answering the same event, in the same run (the two alternate).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { insertApiKey } from '../../db/queries/api-keys.js';
import { generateKey } from '../../functions/api/keys.js';
import { LAMBDA_BUDGETS } from '../../infra/bundle-budgets.js';
import { buildLambda } from '../../infra/bundles.js';
import { openDb, withBenchDatabase } from '../lib/db.js';
import { seedFleet } from '../lib/seed.js';
import { median, ratioOf, round, spread } from '../lib/stats.js';
import type { BenchContext, Suite } from '../lib/types.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// Inside the repository so that the bundles resolve @aws-sdk/* from its node_modules, as a
// Lambda resolves them from the runtime's own copy.
const OUT = join(REPO, 'node_modules/.cache/orchestry-bench/cold-start');

const HELLO_SOURCE = `
import { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
const app = new Hono();
app.get('*', (c) => c.json({ hello: 'world' }));
export const handler = handle(app);
`;

/** Starts the harness's line on stdout, where the function's own log lines go too. */
const ANSWER_MARK = 'BENCH-ANSWER ';

/** Imports the bundle, answers one event, prints when each step ended (ms since the process began). */
const HARNESS_SOURCE = `
const [bundle, eventFile] = process.argv.slice(2);
const { readFileSync } = await import('node:fs');
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const { handler } = await import(bundle);
const imported = performance.now();
const context = { awsRequestId: 'bench', functionName: 'orchestry-api', getRemainingTimeInMillis: () => 30000 };
const answer = await handler(event, context);
process.stdout.write('\\n${ANSWER_MARK}' + JSON.stringify({ statusCode: answer.statusCode, imported, answered: performance.now(), body: String(answer.body).slice(0, 200) }) + '\\n');
process.exit(0);
`;

/** The reference, in one file (it has no dynamic import to split). */
async function bundleHello(): Promise<{ file: string; bytes: number }> {
  const file = join(OUT, 'hello.mjs');
  await build({
    stdin: { contents: HELLO_SOURCE, resolveDir: REPO, loader: 'ts' },
    outfile: file,
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'silent',
  });
  return { file, bytes: statSync(file).size };
}

function gatewayEvent(path: string, token: string): Record<string, unknown> {
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { authorization: `Bearer ${token}`, host: 'api.example.com', accept: 'application/json', 'user-agent': 'bench' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'bench',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'bench-request',
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
}

interface Start {
  ms: number;
  importMs: number;
  statusCode: number;
}

/** One cold start: spawn → the answer on stdout. */
function coldStart(harness: string, bundleFile: string, eventFile: string, env: Record<string, string>): Promise<Start> {
  return new Promise((resolvePromise, reject) => {
    const began = performance.now();
    const child = spawn(process.execPath, [harness, bundleFile, eventFile], { cwd: OUT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const at = out.indexOf(ANSWER_MARK);
      const end = at < 0 ? -1 : out.indexOf('\n', at);
      if (end >= 0) {
        const line = out.slice(at + ANSWER_MARK.length, end);
        const ms = performance.now() - began;
        try {
          const answer = JSON.parse(line) as { statusCode: number; imported: number; body: string };
          if (answer.statusCode !== 200) reject(new Error(`${bundleFile} answered ${answer.statusCode}: ${answer.body}`));
          else resolvePromise({ ms, importMs: answer.imported, statusCode: answer.statusCode });
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-2000);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes(ANSWER_MARK)) reject(new Error(`${bundleFile} exited (${String(code)}) without answering: ${err}`));
    });
  });
}

export const coldStartSuite: Suite = {
  names: ['cold_start'],
  async run(ctx: BenchContext) {
    const runs = ctx.tiny ? 2 : 10;
    mkdirSync(OUT, { recursive: true });
    ctx.log('cold start: bundling the API Lambda and the hello-world reference (minified)');
    const [api, hello] = await Promise.all([
      // With node-postgres, the driver this run's local Postgres needs; the deployed API ships
      // Neon's (infra/api.ts), and its size is the one the bundle budget judges.
      buildLambda(LAMBDA_BUDGETS.api.source, join(OUT, 'api'), 'pg'),
      bundleHello(),
    ]);
    const harness = join(OUT, 'harness.mjs');
    writeFileSync(harness, HARNESS_SOURCE);
    return withBenchDatabase(ctx.serverUrl, 'cold_start', async (database) => {
      await seedFleet(database.url, { apps: 20, replicas: 3, start: new Date() });
      const handle = await openDb(database.url, 2);
      const key = generateKey();
      try {
        await insertApiKey(handle.db.$primary, { name: 'bench', prefix: key.prefix, keyHash: key.keyHash, scope: 'read' });
      } finally {
        await handle.close();
      }
      const eventFile = join(OUT, 'event.json');
      writeFileSync(eventFile, JSON.stringify(gatewayEvent('/api/v1/apps', key.key)));
      // What the API function's environment holds in the cloud (infra/api.ts), with local
      // Postgres for Neon and placeholders for the AWS resources (none is called to list apps).
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        AWS_LAMBDA_FUNCTION_NAME: 'orchestry-api',
        AWS_REGION: 'eu-west-1',
        NODE_ENV: 'production',
        DATABASE_URL: database.url,
        ORCHESTRY_RUNTIME: 'ecs',
        ORCHESTRY_STAGE: 'bench',
        ORCHESTRY_ECS_CLUSTER: 'orchestry',
        ORCHESTRY_ECS_SUBNETS: 'subnet-00000000000000001',
        ORCHESTRY_ECS_SECURITY_GROUPS: 'sg-00000000000000001',
        ORCHESTRY_ECS_EXECUTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/execution',
        ORCHESTRY_ECS_TASK_ROLE_ARN: 'arn:aws:iam::123456789012:role/task',
        ORCHESTRY_ECS_LOG_GROUP: '/orchestry/replicas',
        ORCHESTRY_VPC_ID: 'vpc-00000000000000001',
        ORCHESTRY_ALB_LISTENER_ARN: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/orchestry/1/1',
      };
      const orchestry: Start[] = [];
      const reference: Start[] = [];
      for (let i = 0; i < runs; i++) {
        orchestry.push(await coldStart(harness, api.entry, eventFile, env));
        reference.push(await coldStart(harness, hello.file, eventFile, env));
      }
      const ms = round(median(orchestry.map((s) => s.ms)), 4);
      const referenceMs = round(median(reference.map((s) => s.ms)), 4);
      const ratio = ratioOf(ms, referenceMs);
      const includesDockerode = api.packages.some((p) => p.package === 'dockerode');
      return {
        results: {
          cold_start: {
            orchestry: ms,
            reference: referenceMs,
            unit: 'ms',
            ratio,
            higher_is_better: false,
            orchestry_does: 'node process start → bundled API Lambda answers an authenticated GET /api/v1/apps event (local Postgres)',
            reference_does: 'node process start → bundled Hono hello-world Lambda answers the same event',
            goals: [
              { goal: '<= 2 x the reference', actual: `${ratio} x`, met: ratio <= 2 },
              {
                goal: `bundle <= ${LAMBDA_BUDGETS.api.goalBytes / 1000} kB minified`,
                actual: `${round(api.bytes / 1000, 4)} kB${includesDockerode ? ' (dockerode in the bundle)' : ''}`,
                met: api.bytes <= LAMBDA_BUDGETS.api.goalBytes,
              },
            ],
            bundle_bytes: api.bytes,
            reference_bundle_bytes: hello.bytes,
            bundle_includes_dockerode: includesDockerode,
            bundle_entry_bytes: api.entryBytes,
            bundle_files: api.files.length,
            bundle_largest_packages: api.packages.slice(0, 12),
            start_ms: spread(orchestry.map((s) => s.ms)),
            reference_start_ms: spread(reference.map((s) => s.ms)),
            import_ms: spread(orchestry.map((s) => s.importMs)),
            reference_import_ms: spread(reference.map((s) => s.importMs)),
          },
        },
      };
    });
  },
};
