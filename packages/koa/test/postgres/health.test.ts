// The HTTP tests of health.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../health.test.js';
