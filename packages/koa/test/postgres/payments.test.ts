// The HTTP tests of payments.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../payments.test.js';
