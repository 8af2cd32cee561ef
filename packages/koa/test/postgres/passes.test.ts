// The HTTP tests of passes.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../passes.test.js';
