// The HTTP tests of caching.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../caching.test.js';
