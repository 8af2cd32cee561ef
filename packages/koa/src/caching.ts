/**
 * The `Cache-Control` of an answer with an `ETag` (the seat list, the dates): a browser or a CDN may
 * keep it a second, then asks again with `If-None-Match`. Every other answer is `no-store`.
 */
export const CACHEABLE = 'public, max-age=1';

/** Whether `If-None-Match` (`*`, or a list of entity tags, weak or strong) names `etag` (RFC 9110 §13.1.2). */
export function notModified(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch === '') return false;
  if (ifNoneMatch === etag || ifNoneMatch.trim() === '*') return true;
  for (const tag of ifNoneMatch.split(',')) {
    const trimmed = tag.trim();
    if ((trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === etag) return true;
  }
  return false;
}
