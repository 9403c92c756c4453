/**
 * The specs in examples/ are what users copy first: each must register as written, and each
 * must show what its name promises.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSpec, type AppSpec } from '../../functions/core/spec.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

/** Every YAML spec under examples/ (top level and one level down, like demo-image/app.yaml). */
function exampleFiles(): string[] {
  return readdirSync(EXAMPLES, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name))
    .map((entry) => relative(EXAMPLES, join(entry.parentPath, entry.name)))
    .sort();
}

const parse = (file: string): AppSpec => parseSpec(readFileSync(join(EXAMPLES, file), 'utf8'), 'yaml');

describe('examples/', () => {
  const files = exampleFiles();

  it('holds the documented specs', () => {
    expect(files).toEqual(expect.arrayContaining(['web-nginx.yaml', 'api-autoscale.yaml', 'worker-cpu.yaml', 'demo-image/app.yaml']));
  });

  it.each(files)('%s parses with parseSpec', (file) => {
    expect(() => parse(file)).not.toThrow();
  });

  it('gives every example its own app name, so they can run side by side', () => {
    const names = files.map((file) => parse(file).metadata.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('every example is named in examples/README.md', () => {
    const readme = readFileSync(join(EXAMPLES, 'README.md'), 'utf8');
    for (const file of files) expect(readme).toContain(file);
  });

  it('web-nginx runs nginx:alpine on port 80 with an HTTP health check', () => {
    const spec = parse('web-nginx.yaml');
    expect(spec.spec.image).toBe('nginx:alpine');
    expect(spec.spec.ports[0]!.containerPort).toBe(80);
    expect(spec.healthCheck).toMatchObject({ protocol: 'HTTP', port: 80 });
  });

  it('api-autoscale scales on requests per second and p95 latency', () => {
    const { scaling } = parse('api-autoscale.yaml');
    expect(scaling.mode).toBe('auto');
    expect(scaling.maxReplicas).toBeGreaterThan(scaling.minReplicas);
    expect(scaling.rpsWeight).toBeGreaterThan(0);
    expect(scaling.latencyWeight).toBeGreaterThan(0);
    const yaml = readFileSync(join(EXAMPLES, 'api-autoscale.yaml'), 'utf8');
    expect(yaml).toMatch(/targetRPSPerReplica:/);
    expect(yaml).toMatch(/maxP95LatencyMs:/);
  });

  it('worker-cpu scales on CPU alone', () => {
    const { scaling } = parse('worker-cpu.yaml');
    expect(scaling.mode).toBe('auto');
    expect(scaling.cpuWeight).toBeGreaterThan(0);
    expect([scaling.memoryWeight, scaling.rpsWeight, scaling.latencyWeight, scaling.connectionWeight]).toEqual([0, 0, 0, 0]);
  });
});
