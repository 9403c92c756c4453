/**
 * The pre-parse scan (core/document-limits.ts): each limit at its boundary, in YAML (flow and
 * block) and JSON, and no false alarm on brackets, dashes or colons inside strings, comments
 * and block scalars, nor on any spec the repository ships.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DOCUMENT_LIMITS, jsonLimitProblem, yamlLimitProblem } from '../../../functions/core/document-limits.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const nestedJson = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const indented = (depth: number) => Array.from({ length: depth }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' v\n';
const flowMap = (keys: number) => `{${Array.from({ length: keys }, (_, i) => `k${i}: v`).join(', ')}}`;
const blockMap = (keys: number) => `labels:\n${Array.from({ length: keys }, (_, i) => `  k${i}: v`).join('\n')}\n`;
const limitOf = (problem: { limit: string } | null) => problem?.limit ?? null;

describe('yamlLimitProblem', () => {
  it('counts flow, block, compact-list and mixed nesting up to the limit', () => {
    const max = DOCUMENT_LIMITS.maxDepth;
    expect(yamlLimitProblem(`a: ${nestedJson(max - 1)}`)).toBeNull();
    expect(limitOf(yamlLimitProblem(`a: ${nestedJson(max)}`))).toBe('max_depth');
    expect(yamlLimitProblem(indented(max))).toBeNull();
    expect(limitOf(yamlLimitProblem(indented(max + 1)))).toBe('max_depth');
    expect(yamlLimitProblem('- '.repeat(max) + 'x')).toBeNull();
    expect(limitOf(yamlLimitProblem('- '.repeat(max + 1) + 'x'))).toBe('max_depth');
    // 32 block levels and 33 flow levels inside them.
    expect(limitOf(yamlLimitProblem(indented(32).replace(/ v\n$/, ` ${nestedJson(33)}\n`)))).toBe('max_depth');
    expect(yamlLimitProblem(indented(32).replace(/ v\n$/, ` ${nestedJson(32)}\n`))).toBeNull();
  });

  it('says where and what to do', () => {
    expect(yamlLimitProblem(`a:\n  b: ${nestedJson(100)}`)).toEqual({
      limit: 'max_depth',
      max: 64,
      message: 'nests mappings and lists more than 64 levels deep (at line 2, column 68); an app spec needs fewer than 10',
    });
  });

  it('counts the keys of flow and block mappings, and list items at one column', () => {
    const max = DOCUMENT_LIMITS.maxKeys;
    expect(yamlLimitProblem(`labels: ${flowMap(max)}`)).toBeNull();
    expect(limitOf(yamlLimitProblem(`labels: ${flowMap(max + 1)}`))).toBe('max_keys');
    expect(yamlLimitProblem(blockMap(max))).toBeNull();
    expect(limitOf(yamlLimitProblem(blockMap(max + 1)))).toBe('max_keys');
    // A list as a mapping's value at the key's column ends before the next key.
    const lists = Array.from({ length: max }, (_, i) => `k${i}:\n- a\n- b`).join('\n');
    expect(yamlLimitProblem(lists)).toBeNull();
    expect(limitOf(yamlLimitProblem(`${lists}\nlast: v`))).toBe('max_keys');
    // Items of a list of mappings count toward the list, their keys toward each mapping.
    expect(yamlLimitProblem(Array.from({ length: 1000 }, (_, i) => `- name: V${i}\n  value: x`).join('\n'))).toBeNull();
  });

  it('refuses YAML above the size cap before reading it', () => {
    expect(limitOf(yamlLimitProblem('a: ' + 'x'.repeat(DOCUMENT_LIMITS.maxYamlBytes)))).toBe('max_yaml_bytes');
    expect(yamlLimitProblem('a: ' + 'x'.repeat(DOCUMENT_LIMITS.maxYamlBytes - 3))).toBeNull();
    // Bytes, not characters: 'é' is two.
    expect(limitOf(yamlLimitProblem('a: ' + 'é'.repeat(DOCUMENT_LIMITS.maxYamlBytes / 2)))).toBe('max_yaml_bytes');
  });

  it('ignores indicators inside quoted strings, comments and block scalars', () => {
    const tricky = [
      `a: "${'['.repeat(200)}"`,
      `b: '${'{'.repeat(200)}'`,
      `# ${'['.repeat(200)}`,
      `c: |\n${Array.from({ length: 300 }, (_, i) => `${' '.repeat(2 + (i % 80))}- [{ k: v }, ${'['.repeat(3)}`).join('\n')}`,
      `d: plain, text: with [brackets] and - dashes`,
    ].join('\n');
    expect(yamlLimitProblem(tricky)).toBeNull();
  });

  it('passes every spec the repository ships', () => {
    const dirs = ['examples', 'test/fixtures/specs/valid', 'test/fixtures/specs/invalid'];
    const files = dirs.flatMap((dir) =>
      readdirSync(path.join(REPO, dir))
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => path.join(REPO, dir, f)),
    );
    expect(files.length).toBeGreaterThan(3);
    for (const file of files) expect(yamlLimitProblem(readFileSync(file, 'utf8')), file).toBeNull();
  });
});

describe('jsonLimitProblem', () => {
  it('counts nesting, keys and entries at their limits', () => {
    expect(jsonLimitProblem(nestedJson(DOCUMENT_LIMITS.maxDepth))).toBeNull();
    expect(limitOf(jsonLimitProblem(nestedJson(DOCUMENT_LIMITS.maxDepth + 1)))).toBe('max_depth');
    const keys = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, [1, 2]])));
    expect(jsonLimitProblem(keys(DOCUMENT_LIMITS.maxKeys))).toBeNull();
    expect(limitOf(jsonLimitProblem(keys(DOCUMENT_LIMITS.maxKeys + 1)))).toBe('max_keys');
    const entries = (n: number) => JSON.stringify({ samples: Array.from({ length: n }, () => ({ metric_type: 'rps', value: 1 })) });
    expect(jsonLimitProblem(entries(DOCUMENT_LIMITS.maxEntries))).toBeNull();
    expect(limitOf(jsonLimitProblem(entries(DOCUMENT_LIMITS.maxEntries + 1)))).toBe('max_entries');
  });

  it('ignores brackets and commas in strings, escaped quotes included', () => {
    expect(jsonLimitProblem(JSON.stringify({ a: '['.repeat(500) + '\\"' + ','.repeat(500), b: '"{'.repeat(300) }))).toBeNull();
  });

  it('says the line and column', () => {
    expect(jsonLimitProblem(`{\n  "a": ${nestedJson(70)}\n}`)?.message).toContain('at line 2, column 71');
  });
});
