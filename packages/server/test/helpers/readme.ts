import { readFile } from 'node:fs/promises';

const README = new URL('../../../../README.md', import.meta.url);

/**
 * The README's "whole flow with curl": the first `sh` block after its heading, with its
 * `U=http://127.0.0.1:3000` pointed at `url` when given.
 */
export async function walkThrough(url?: string): Promise<string> {
  const readme = await readFile(README, 'utf8');
  const section = readme.slice(readme.indexOf('### The whole flow with curl'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error('no walk-through in the README');
  if (url === undefined) return block;
  if (!block.includes('U=http://127.0.0.1:3000')) throw new Error('the walk-through sets no U=');
  return block.replace('U=http://127.0.0.1:3000', `U=${url}`);
}
