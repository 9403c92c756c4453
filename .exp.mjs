import { build } from 'esbuild';
import { statSync, readdirSync, rmSync } from 'node:fs';
const [entry, out, split] = process.argv.slice(2);
rmSync(out, { recursive: true, force: true });
const r = await build({ entryPoints: [entry], bundle: true, minify: true, platform: 'node', target: 'node20', format: 'esm', outdir: out, splitting: split === '1', outExtension: { '.js': '.mjs' },
  external: ['@aws-sdk/*','pg-native','cpu-features','*.node'], metafile: true, logLevel: 'warning',
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } });
let total = 0;
for (const [f, o] of Object.entries(r.metafile.outputs)) { total += o.bytes; if (o.bytes > 5000) console.log(f, o.bytes, o.entryPoint ?? ''); }
console.log('total', total);
