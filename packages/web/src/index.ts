import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The folder of the page's static files (HTML, CSS, a JavaScript module: no build step). */
export const webRoot: string = fileURLToPath(new URL('../public/', import.meta.url));

/** The URL paths the page answers, `/` being `index.html`. */
export const webPaths: ReadonlySet<string> = new Set([
  '/',
  ...readdirSync(webRoot).map((name) => `/${name}`),
]);
