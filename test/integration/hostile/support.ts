/**
 * The hostile-input suite's server and case runner. The API is served over real HTTP (Node's
 * server through @hono/node-server, as the dev server serves it) over a test database and the
 * fake runtime; every case is sent by fetch, and must be answered with its status and code in
 * the one error format, naming the field where there is one, with every table and the runtime's
 * calls exactly as they were before.
 */
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { expect } from 'vitest';
import type { Db } from '../../../db/client.js';
import type { OrchestryConfig } from '../../../functions/deps.js';
import { ADMIN_TOKEN, expectErrorShape, makeHarness, snapshot, type Answer, type CallOptions, type Harness } from '../api/harness.js';

export interface HostileCase {
  name: string;
  /** What the case proves: the #13 item it guards, or 'malformed' for the older table. */
  proves: string;
  method: string;
  path: string;
  options?: CallOptions;
  status: number;
  code: string;
  /** A field the error must name (details.issues[].path). */
  field?: string;
  /** Which server answers: the default limits, or ORCHESTRY_MAX_BODY_BYTES raised to 10 MiB (its maximum). */
  server?: 'default' | 'raised-body-limit';
  /** Details the error must carry besides (toMatchObject). */
  details?: Record<string, unknown>;
}

export interface HttpHarness extends Harness {
  url: string;
  close(): Promise<void>;
}

/**
 * One request on a connection of its own. A server may answer an oversized body before it has
 * read it and close the connection (as Node's does after a bounded drain): the answer counts,
 * and the client's failure to write the rest does not. fetch would report only the failure.
 */
function send(url: string, method: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; headers: Headers; text: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method, headers, agent: false }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const out = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') out.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers: out, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    req.end(body);
  });
}

/** The harness's app behind a real HTTP server on a free loopback port. */
export async function serveHarness(db: Db, config: Partial<OrchestryConfig> = {}): Promise<HttpHarness> {
  const h = makeHarness(db, { config });
  const server = createAdaptorServer({ fetch: h.app.fetch }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const call = async (method: string, path: string, opts: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? ADMIN_TOKEN : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    } else if (opts.contentType) headers['content-type'] = opts.contentType;
    const res = await send(url + path, method, headers, body);
    let parsed: unknown = res.text;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      // Not JSON: the text is the body, and expectErrorShape says so.
    }
    return { ...res, body: parsed };
  };
  return {
    ...h,
    url,
    call,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

/** Sends one case and checks the answer and that nothing stored or run changed. */
export async function expectRefused(h: HttpHarness, db: Db, c: HostileCase): Promise<void> {
  const before = await snapshot(db);
  const runtimeCalls = JSON.stringify(h.runtime.calls);
  const answer = await h.call(c.method, c.path, c.options);
  expect(answer.status, answer.text.slice(0, 500)).toBe(c.status);
  expectErrorShape(answer, c.code);
  if (c.field !== undefined) {
    const fields = (answer.body.details?.issues ?? []).map((i: { path: string }) => i.path);
    expect(fields, answer.body.error).toContain(c.field);
  }
  if (c.details) expect(answer.body.details).toMatchObject(c.details);
  expect(await snapshot(db)).toEqual(before);
  expect(JSON.stringify(h.runtime.calls)).toBe(runtimeCalls);
}
