// Last step of scripts/build.sh, on the built site root (argument 1):
//
//  1. Content-hashed names: pkg/tollbooth.js, pkg/tollbooth_bg.wasm,
//     pkg/tollbooth.css and vendor/echarts.min.js are renamed to
//     `<name>.<hash>.<ext>` (16 hex digits of their SHA-256), so the server
//     can let browsers keep them for a year (`Cache-Control: immutable`,
//     server/src/static_files.rs): a new build is new URLs.
//  2. pkg/hash.txt, in the format of cargo-leptos' hash file (`js: <hash>`
//     lines), which leptos reads to name the bundle in every page
//     (`HydrationScripts`, `HashedStylesheet`); `echarts:` is Tollbooth's
//     own line (app/src/components/chart.rs).
//  3. Brotli (quality 11) and gzip (level 9) copies of every compressible
//     file, served by tower-http's ServeDir with `Content-Encoding`.
//
// Node's own crypto and zlib only: no tool to install.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const site = process.argv[2];
if (!site) {
  console.error('usage: node scripts/finish-site.mjs <site root>');
  process.exit(2);
}

const hashOf = (path) => createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);

// [hash.txt key, directory, name before, name after (with the hash)]
const hashed = [
  ['js', 'pkg', 'tollbooth.js', (h) => `tollbooth.${h}.js`],
  ['wasm', 'pkg', 'tollbooth_bg.wasm', (h) => `tollbooth.${h}.wasm`],
  ['css', 'pkg', 'tollbooth.css', (h) => `tollbooth.${h}.css`],
  ['echarts', 'vendor', 'echarts.min.js', (h) => `echarts.${h}.min.js`],
];
const lines = [];
const renamed = [];
for (const [key, dir, before, after] of hashed) {
  const hash = hashOf(join(site, dir, before));
  renameSync(join(site, dir, before), join(site, dir, after(hash)));
  lines.push(`${key}: ${hash}`);
  renamed.push(join(dir, after(hash)));
}
writeFileSync(join(site, 'pkg', 'hash.txt'), lines.join('\n') + '\n');

const COMPRESSIBLE = /\.(js|mjs|wasm|css|svg|json|txt|html|map)$/;
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]);
let raw = 0, br = 0, gz = 0;
for (const path of files(site).filter((p) => COMPRESSIBLE.test(p))) {
  const data = readFileSync(path);
  const brotli = brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
    },
  });
  const gzip = gzipSync(data, { level: 9 });
  // A copy no smaller than the file is useless: ServeDir then sends the file.
  if (brotli.length < data.length) writeFileSync(`${path}.br`, brotli);
  if (gzip.length < data.length) writeFileSync(`${path}.gz`, gzip);
  raw += data.length; br += Math.min(brotli.length, data.length); gz += Math.min(gzip.length, data.length);
}
const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
console.log(`site assets: ${kb(raw)} raw, ${kb(gz)} gzip, ${kb(br)} brotli`);
const size = (p) => { try { return statSync(p).size; } catch { return 0; } };
for (const name of renamed) {
  const p = join(site, name);
  console.log(`  ${name}: ${kb(size(p))} raw, ${kb(size(`${p}.gz`))} gzip, ${kb(size(`${p}.br`))} brotli`);
}
