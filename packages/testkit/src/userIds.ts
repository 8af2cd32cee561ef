/**
 * User ids the user id rule (`userIdProblem` of `@usher/engine`) refuses, each
 * with what is wrong: ids a person cannot tell apart, or that spoof others in
 * logs and operator views (issue 21). Shared by the engine, HTTP and sign-in tests.
 */
export const unfitUserIds: readonly (readonly [what: string, id: string])[] = [
  ['NUL', 'ann\u0000'],
  ['a C0 control', 'ann\u0007'],
  ['a C1 control (NEL)', 'ann\u0085'],
  ['DEL', 'ann\u007f'],
  ['a bidi override', '\u202eann'],
  ['a bidi isolate', 'ann\u2066'],
  ['a zero-width space', 'an\u200bn'],
  ['a zero-width joiner', 'an\u200dn'],
  ['a BOM', '\ufeffann'],
  ['a soft hyphen', 'an\u00adn'],
  ['a line separator', 'ann\u2028'],
  ['the noncharacter U+FFFF', 'ann\uffff'],
  ['the noncharacter U+FDD0', 'ann\ufdd0'],
  ['a plane-16 noncharacter', 'ann\u{10ffff}'],
  ['a lone high surrogate', 'ann\ud800'],
  ['a lone low surrogate', '\udfffann'],
  ['a leading space', ' ann'],
  ['a trailing space', 'ann '],
  ['a trailing no-break space', 'ann\u00a0'],
  ['a trailing ideographic space', 'ann\u3000'],
  ['NFD (e + combining acute)', 'Jose\u0301'],
  ['NFD Hangul (jamo)', '\u1112\u1161\u11ab'],
  ['too long', 'a'.repeat(129)],
];

/**
 * Pieces to build random user ids from in property tests: the characters of
 * {@link unfitUserIds}, U+FFFD, and a few a user id may hold.
 */
export const userIdPieces: readonly string[] = [
  'a',
  'Z',
  '\u00e9',
  '\ud55c',
  '\ufffd',
  'e\u0301',
  ' ',
  '\u00a0',
  '\u3000',
  '\u0000',
  '\u0007',
  '\u007f',
  '\u0085',
  '\u202e',
  '\u2066',
  '\u200b',
  '\u200d',
  '\ufeff',
  '\u00ad',
  '\u2028',
  '\uffff',
  '\ufdd0',
  '\u{10ffff}',
  '\ud800',
  '\udfff',
];
