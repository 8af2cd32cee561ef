import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder of the page's static files (HTML, CSS, a JavaScript module: no build step). */
export const webRoot: string = fileURLToPath(new URL('../public/', import.meta.url));

/** The URL paths the page answers, `/` being `index.html`. */
export const webPaths: ReadonlySet<string> = new Set([
  '/',
  ...readdirSync(webRoot).map((name) => `/${name}`),
]);

/**
 * `qrcode-generator`'s own ES module (no build step here either): the page draws each valid
 * ticket's code as an SVG QR code in the browser with it, served from this package's copy.
 */
// Its `exports` list no `package.json`: the folder is the one of its CommonJS entry, `dist/qrcode.js`.
const qrcodeGenerator = dirname(createRequire(import.meta.url).resolve('qrcode-generator'));

/**
 * The file behind each path the page answers: its own files ({@link webPaths}), `/scan` (the
 * door's scanner page) and `/vendor/…` (the browser libraries it imports, from their packages);
 * `undefined` for any other path, which never touches the disk.
 */
export function webFile(path: string): { root: string; file: string } | undefined {
  if (path === '/') return { root: webRoot, file: 'index.html' };
  if (path === '/scan') return { root: webRoot, file: 'scan.html' };
  if (path === '/vendor/qrcode.mjs') return { root: qrcodeGenerator, file: 'qrcode.mjs' };
  return webPaths.has(path) ? { root: webRoot, file: path.slice(1) } : undefined;
}
