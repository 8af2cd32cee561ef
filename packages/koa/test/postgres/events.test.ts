// The HTTP tests of events.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../events.test.js';
