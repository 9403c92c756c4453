/**
 * spec_limits: the time to refuse the hostile documents of issue #13 (items 1 and 2) over HTTP
 * against the API process, with the body limit raised to 10 MiB, its maximum so that the payloads the
 * default limit would refuse by size reach the scan: nested YAML flow brackets and block
 * dashes, a flow mapping of thousands of label keys, and the same in JSON. Each payload is
 * sent `repeats` times; a payload's figure is its median, the suite's the worst payload's.
 *
 * The reference is what reading those YAML documents cost before the scan: the yaml parser
 * (parseAllDocuments with uniqueKeys, then toJS) in this process, on the YAML payloads it
 * survives. The 130,000 brackets and 120,000 dashes of the issue have no reference, as they
 * abort a process with an out-of-memory error that cannot be caught (they did in this suite's
 * first run); nor do the JSON ones, which never reached that parser.
 */
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import { startApiServer } from '../lib/api-server.js';
import { withBenchDatabase } from '../lib/db.js';
import { median, msSince, ratioOf, round } from '../lib/stats.js';
import type { BenchContext, Suite } from '../lib/types.js';

/** Sizes: the at full size; a hundredth in tiny mode (still past every limit). */
const SIZES = { scale: 1, repeats: 15 };
const TINY = { scale: 0.01, repeats: 2 };

interface Payload {
  name: string;
  kind: 'nesting' | 'keys';
  contentType: 'application/yaml' | 'application/json';
  body: string;
  /** Whether the old parser survives it (the reference can time it). */
  referable: boolean;
}

const brackets = (n: number) => '['.repeat(n) + ']'.repeat(n);
const flowKeys = (n: number) => `{${Array.from({ length: n }, (_, i) => `k${i}: v`).join(', ')}}`;

function payloads(scale: number): Payload[] {
  const n = (count: number) => Math.max(300, Math.round(count * scale));
  return [
    { name: `yaml ${n(130_000)} nested flow brackets`, kind: 'nesting', contentType: 'application/yaml', body: `a: ${brackets(n(130_000))}`, referable: false },
    { name: `yaml ${n(30_000)} nested flow brackets`, kind: 'nesting', contentType: 'application/yaml', body: `a: ${brackets(n(30_000))}`, referable: true },
    { name: `yaml ${n(120_000)} block dashes`, kind: 'nesting', contentType: 'application/yaml', body: '- '.repeat(n(120_000)) + 'x', referable: false },
    { name: `yaml ${n(1_000_000)} nested flow brackets`, kind: 'nesting', contentType: 'application/yaml', body: `a: ${brackets(n(1_000_000))}`, referable: false },
    { name: `json ${n(1_000_000)} nested lists`, kind: 'nesting', contentType: 'application/json', body: `{"a": ${brackets(n(1_000_000))}}`, referable: false },
    { name: `yaml ${n(20_000)} label keys`, kind: 'keys', contentType: 'application/yaml', body: `labels: ${flowKeys(n(20_000))}`, referable: true },
    { name: `yaml ${n(5_000)} label keys`, kind: 'keys', contentType: 'application/yaml', body: `labels: ${flowKeys(n(5_000))}`, referable: true },
    {
      name: `json ${n(20_000)} label keys`,
      kind: 'keys',
      contentType: 'application/json',
      body: JSON.stringify({ metadata: { labels: Object.fromEntries(Array.from({ length: n(20_000) }, (_, i) => [`k${i}`, 'v'])) } }),
      referable: false,
    },
  ];
}

/** What readYaml did before the scan. */
function oldRead(source: string): void {
  try {
    const [document] = YAML.parseAllDocuments(source, { uniqueKeys: true }) as YAML.Document[];
    if (document && document.errors.length === 0) document.toJS({ maxAliasCount: 100 });
  } catch {
    // "Maximum call stack size exceeded": caught, after the time it took.
  }
}

export const specLimitsSuite: Suite = {
  names: ['spec_limits'],
  async run(ctx: BenchContext) {
    const size = ctx.tiny ? TINY : SIZES;
    const token = randomBytes(24).toString('hex');
    const cases = payloads(size.scale);
    const perPayload: Record<string, { orchestry_ms: number; reference_ms: number | null; status: number; limit: string }> = {};
    await withBenchDatabase(ctx.serverUrl, 'spec_limits', async (database) => {
      const api = await startApiServer(database.url, { ORCHESTRY_ADMIN_TOKEN: token, ORCHESTRY_MAX_BODY_BYTES: String(10 * 1024 * 1024) });
      try {
        for (const p of cases) {
          const times: number[] = [];
          let status = 0;
          let limit = '';
          for (let i = 0; i < size.repeats; i++) {
            const began = performance.now();
            const answer = await fetch(`${api.url}/api/v1/apps/register`, {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': p.contentType },
              body: p.body,
            });
            const body = (await answer.json()) as { details?: { limit?: string } };
            times.push(msSince(began));
            status = answer.status;
            limit = body.details?.limit ?? '';
          }
          if (status !== 400 || !limit) throw new Error(`${p.name}: answered ${status} without a limit, not a 400 naming one`);
          const reference: number[] = [];
          for (let i = 0; p.referable && i < Math.min(size.repeats, 3); i++) {
            const began = performance.now();
            oldRead(p.body);
            reference.push(msSince(began));
          }
          perPayload[p.name] = { orchestry_ms: round(median(times)), reference_ms: p.referable ? round(median(reference)) : null, status, limit };
          ctx.log(`spec_limits ${p.name}: ${round(median(times))} ms (${limit})`);
        }
      } finally {
        await api.stop();
      }
    });
    const worst = (kind: Payload['kind']) => Math.max(...cases.filter((p) => p.kind === kind).map((p) => perPayload[p.name]!.orchestry_ms));
    const orchestry = Math.max(worst('nesting'), worst('keys'));
    const reference = Math.max(...cases.filter((p) => p.referable).map((p) => perPayload[p.name]!.reference_ms!));
    return {
      results: {
        spec_limits: {
          orchestry: round(orchestry),
          reference: round(reference),
          unit: 'ms',
          ratio: ratioOf(orchestry, reference),
          higher_is_better: false,
          orchestry_does: `POST /api/v1/apps/register over HTTP with each hostile payload (body limit 10 MiB), the worst payload's median of ${size.repeats}`,
          reference_does: 'the yaml parser reading the YAML payloads as readYaml did before the pre-parse scan (the worst payload)',
          goals: [
            { goal: 'nesting refused within 10 ms', actual: `${round(worst('nesting'))} ms (worst payload)`, met: worst('nesting') <= 10 },
            { goal: 'too many keys refused within 100 ms', actual: `${round(worst('keys'))} ms (worst payload)`, met: worst('keys') <= 100 },
          ],
          payloads: perPayload,
        },
      },
    };
  },
};
