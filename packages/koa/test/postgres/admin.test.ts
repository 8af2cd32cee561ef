// The HTTP tests of admin.test.ts, on the PostgreSQL engine.
import './engine.js';
import '../admin.test.js';
