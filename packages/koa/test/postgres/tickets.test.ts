// The HTTP tests of tickets.test.ts (SPEC §11), on the PostgreSQL engine.
import './engine.js';
import '../tickets.test.js';
