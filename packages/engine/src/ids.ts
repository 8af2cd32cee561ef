import { nanoid } from 'nanoid';

/**
 * A new nanoid (21 characters, 126 random bits), as a flat string.
 *
 * nanoid appends one character at a time, which V8 keeps as a chain of
 * cons strings: ~330 bytes per id. A token lives as long as its user waits,
 * and a million of them wait at once; the flat copy is 48 bytes.
 */
export function newId(): string {
  return Buffer.from(nanoid(), 'latin1').toString('latin1');
}
