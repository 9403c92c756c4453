/**
 * Closed-loop load with a fixed number of clients, for a fixed time: over HTTP with autocannon
 * (Orchestry's side), or as SQL straight through a pg Pool (the bare-driver references).
 * Both report the same figures, so they can be put side by side.
 */
import autocannon from 'autocannon';
import type pg from 'pg';
import { quantile, round } from './stats.js';

export interface LoadResult {
  /** Completed requests (or query sequences) per second. */
  per_second: number;
  completed: number;
  duration_seconds: number;
  /** Answers that were not 2xx, and connection errors or timeouts (HTTP only). */
  non_2xx: number;
  errors: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

/** `connections` clients, each sending the next of `requests` (round robin) as soon as the last is answered. */
export async function httpLoad(opts: {
  url: string;
  connections: number;
  seconds: number;
  requests: HttpRequest[];
  headers: Record<string, string>;
}): Promise<LoadResult> {
  const result = await autocannon({
    url: opts.url,
    connections: opts.connections,
    duration: opts.seconds,
    headers: opts.headers,
    requests: opts.requests.map((r) => ({ method: r.method, path: r.path, ...(r.body ? { body: r.body } : {}), ...(r.headers ? { headers: r.headers } : {}) })),
    timeout: 30,
  });
  const seconds = result.duration;
  const completed = result.requests.total;
  return {
    per_second: round(completed / seconds, 4),
    completed,
    duration_seconds: round(seconds, 4),
    non_2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latency_ms: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
  };
}

export interface Statement {
  text: string;
  values: unknown[] | undefined;
  /** Sent as a named (prepared) statement, as the code under test sent it. */
  name?: string | undefined;
}

/**
 * `workers` clients, each running the statements of one request (`sequenceFor(n)`, in order)
 * through `pool` and starting the next as soon as the last statement answered.
 */
export async function driverLoad(opts: {
  pool: pg.Pool;
  workers: number;
  seconds: number;
  sequenceFor: (n: number) => Statement[];
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let next = 0;
  const began = performance.now();
  const deadline = began + opts.seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const sequence = opts.sequenceFor(next++);
      const t = performance.now();
      for (const { text, values, name } of sequence) await (name ? opts.pool.query({ name, text, values }) : opts.pool.query(text, values));
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: opts.workers }, worker));
  const seconds = (performance.now() - began) / 1000;
  const ms = (q: number) => round(quantile(latencies, q), 3);
  return {
    per_second: round(latencies.length / seconds, 4),
    completed: latencies.length,
    duration_seconds: round(seconds, 4),
    non_2xx: 0,
    errors: 0,
    latency_ms: { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99), max: round(Math.max(...latencies), 3) },
  };
}
