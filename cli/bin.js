#!/usr/bin/env node
// The `orchestry` command, straight from the checkout, with no build step.
//
// cli/**/*.ts is bundled by esbuild (tsx's own dependency) into node_modules/.cache, keyed by
// the sources' paths, sizes and times (the CLI imports nothing else of this repository but
// package.json; packages stay external), so that a run is one import of plain JavaScript: about
// a third of the start-up cost of running the TypeScript through tsx's loader, which starts a
// loader thread on every run. An edited source is rebuilt on the next run. Where the cache
// cannot be written (a read-only checkout), tsx runs the TypeScript instead.
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cliDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(cliDir);
const entry = join(cliDir, 'main.ts');
const cacheDir = join(root, 'node_modules', '.cache', 'orchestry-cli');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((item) => {
    const path = join(dir, item.name);
    if (item.isDirectory()) return sources(path);
    return item.name.endsWith('.ts') ? [path] : [];
  });
}

/** Changes whenever a source (or package.json, whose version is bundled) changes. */
function cacheKey() {
  const hash = createHash('sha256');
  for (const file of [...sources(cliDir), join(root, 'package.json')].sort()) {
    const { size, mtimeMs } = statSync(file);
    hash.update(`${relative(root, file)}:${size}:${mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** The bundle for the current sources, built if missing; null when it cannot be written. */
function bundle() {
  const out = join(cacheDir, `main-${cacheKey()}.mjs`);
  if (existsSync(out)) return out;
  try {
    mkdirSync(cacheDir, { recursive: true });
    accessSync(cacheDir, constants.W_OK);
  } catch {
    return null;
  }
  const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))('esbuild');
  // Written aside and renamed: two runs building at once each leave a whole file.
  const temporary = `${out}.${process.pid}.tmp`;
  esbuild.buildSync({
    entryPoints: [entry],
    outfile: temporary,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  renameSync(temporary, out);
  for (const old of readdirSync(cacheDir)) {
    if (old.startsWith('main-') && old.endsWith('.mjs') && join(cacheDir, old) !== out) rmSync(join(cacheDir, old), { force: true });
  }
  return out;
}

const built = bundle();
if (built) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(entry).href);
}
