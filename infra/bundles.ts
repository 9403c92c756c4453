/**
 * Every Orchestry Lambda built the way SST's deploy builds it (infra/functions.ts'
 * FUNCTION_DEFAULTS and bundledWith through the options SST v2 gives esbuild), but minified and with
 * `@aws-sdk/*` left to the Node 20 Lambda runtime's own copy, so that a bundle's size is the
 * code Orchestry ships and parses at a cold start. The budgets (infra/bundle-budgets.ts,
 * test/infra/budgets.test.ts), `npm run bundles` and bench cold_start all build with this.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { bundledWith, type LambdaDriver } from './functions.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What the Node 20 Lambda runtime provides beside the bundle. */
export const RUNTIME_PROVIDED = ['@aws-sdk/*'];

// SST v2's ESM banner (sst/runtime/handlers/node.js): esbuild's ESM output needs `require`
// for the CommonJS packages it bundles (pg, ...).
const SST_ESM_BANNER = [
  `import { createRequire as topLevelCreateRequire } from 'module';`,
  `const require = topLevelCreateRequire(import.meta.url);`,
  `import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"`,
  `const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))`,
].join('\n');

export interface PackageBytes {
  /** An npm package, or a repository folder such as `functions/api`. */
  package: string;
  bytes: number;
}

export interface BuiltBundle {
  /** The handler's module. */
  entry: string;
  /** Every file written (the handler's module and, with code splitting, its chunks). */
  files: string[];
  /** All of them together: what is uploaded, and the most a cold start may parse. */
  bytes: number;
  /** The handler's module alone: what every cold start parses. */
  entryBytes: number;
  /** Bytes in the output per package or folder, largest first. */
  packages: PackageBytes[];
  /** Every source file that went into the output. */
  inputs: string[];
}

/** The package (or repository folder) an esbuild input path belongs to. */
export function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match ? match[1]! : input.split('/').slice(0, 2).join('/');
}

function packagesOf(metafile: Metafile): PackageBytes[] {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      sizes.set(packageOf(input), (sizes.get(packageOf(input)) ?? 0) + bytesInOutput);
    }
  }
  return [...sizes.entries()].map(([name, bytes]) => ({ package: name, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/**
 * Builds one handler module (`functions/api/lambda.ts`) with one database driver (as
 * infra/functions.ts bundledWith) into `outDir`, which must lie inside the repository for
 * `@aws-sdk/*` to resolve from its node_modules as from the runtime's.
 */
export async function buildLambda(source: string, outDir: string, driver: LambdaDriver): Promise<BuiltBundle> {
  const { nodejs } = bundledWith(driver);
  // SST types these with its own esbuild's types; the options are the same.
  const { external = [], ...override } = (nodejs.esbuild ?? {}) as BuildOptions;
  const splitting = nodejs.splitting === true;
  const result = await build({
    entryPoints: [path.resolve(REPO, source)],
    absWorkingDir: REPO,
    platform: 'node',
    bundle: true,
    keepNames: true,
    logLevel: 'silent',
    format: 'esm',
    target: 'esnext',
    mainFields: ['module', 'main'],
    banner: { js: SST_ESM_BANNER },
    splitting,
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    ...override,
    external: ['sharp', 'pg-native', ...external, ...RUNTIME_PROVIDED],
    minify: true,
    sourcemap: false,
    metafile: true,
  });
  const metafile = result.metafile!;
  const outputs = Object.entries(metafile.outputs);
  const files = outputs.map(([file]) => path.resolve(REPO, file));
  const entryOutput = outputs.find(([, output]) => output.entryPoint !== undefined);
  if (!entryOutput) throw new Error(`esbuild wrote no module for ${source}`);
  const entry = path.resolve(REPO, entryOutput[0]);
  return {
    entry,
    files,
    bytes: files.reduce((sum, f) => sum + statSync(f).size, 0),
    entryBytes: statSync(entry).size,
    packages: packagesOf(metafile),
    inputs: Object.keys(metafile.inputs),
  };
}
